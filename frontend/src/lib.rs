#![recursion_limit = "512"]
//! The browser entry point. Pages are server-rendered HTML; only the portal's islands
//! (`#[island]` in `app::ui`) run here, each hydrated on its own.

// Links the `app` crate, whose islands are exported from this module for the loader.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // The loader hydrates the islands right after this returns, in one run of promise
    // callbacks; a zero timeout marks the body once they are done. Browser tests (and
    // anyone curious) use it to tell that the page now runs on WASM.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}

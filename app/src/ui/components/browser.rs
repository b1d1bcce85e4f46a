//! The few browser features the portal uses beyond the DOM. On the server these do
//! nothing: they only ever run from a click.

/// Puts `text` on the clipboard.
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Opens the browser's print dialog (the print stylesheet decides what is printed).
pub fn print_page() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.print();
    }
}

/// The page URL's fragment without its `#` (empty on the server, which never sees it).
pub fn location_fragment() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let hash = window.location().hash().unwrap_or_default();
        return hash.trim_start_matches('#').to_owned();
    }
    String::new()
}

/// The browser's time zone, as `Intl` names it (`Europe/Stockholm`); empty if unknown.
#[cfg(feature = "hydrate")]
pub fn time_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|zone| zone.as_string())
        .unwrap_or_default()
}

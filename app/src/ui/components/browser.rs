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

/// What the page's input field `id` holds right now; `None` on the server or without it.
/// Read before an island hydrates, since hydration resets the field to the server's value.
pub fn field_value(id: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.get_element_by_id(id))
            .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
            .map(|input| input.value())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        None
    }
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

/// Whether this browser can make and use passkeys here: WebAuthn with its JSON helpers,
/// in a secure context (https, or localhost).
#[cfg(feature = "hydrate")]
pub fn has_webauthn() -> bool {
    use js_sys::Reflect;
    let Some(window) = web_sys::window() else {
        return false;
    };
    let secure = Reflect::get(&window, &"isSecureContext".into())
        .map(|v| v.is_truthy())
        .unwrap_or(false);
    let Ok(class) = Reflect::get(&window, &"PublicKeyCredential".into()) else {
        return false;
    };
    secure
        && !class.is_undefined()
        && [
            "parseCreationOptionsFromJSON",
            "parseRequestOptionsFromJSON",
        ]
        .iter()
        .all(|name| {
            Reflect::get(&class, &(*name).into())
                .map(|f| f.is_function())
                .unwrap_or(false)
        })
}

/// Runs a WebAuthn ceremony: `options` is the server's JSON (`{"publicKey": …}`),
/// `create` makes a new passkey, otherwise one is used. Returns the credential as JSON
/// for the server, or what to tell the person.
#[cfg(feature = "hydrate")]
pub async fn passkey_ceremony(options: &str, create: bool) -> Result<String, String> {
    use js_sys::{Function, JSON, Object, Promise, Reflect};
    use leptos::wasm_bindgen::{JsCast, JsValue};

    let unsupported = || "this browser cannot use passkeys here".to_owned();
    let window = web_sys::window().ok_or_else(unsupported)?;
    let get = |target: &JsValue, name: &str| {
        Reflect::get(target, &name.into()).map_err(|_| unsupported())
    };
    let call = |target: &JsValue, name: &str, args: &[&JsValue]| -> Result<JsValue, JsValue> {
        let function: Function = Reflect::get(target, &name.into())?.dyn_into()?;
        match args {
            [] => function.call0(target),
            [one] => function.call1(target, one),
            _ => Err(JsValue::UNDEFINED),
        }
    };
    let parsed = JSON::parse(options).map_err(|_| unsupported())?;
    let class = get(&window, "PublicKeyCredential")?;
    let parse = if create {
        "parseCreationOptionsFromJSON"
    } else {
        "parseRequestOptionsFromJSON"
    };
    let public_key =
        call(&class, parse, &[&get(&parsed, "publicKey")?]).map_err(|_| unsupported())?;
    let request = Object::new();
    Reflect::set(&request, &"publicKey".into(), &public_key).map_err(|_| unsupported())?;
    let credentials = get(&get(&window, "navigator")?, "credentials")?;
    let promise: Promise = call(
        &credentials,
        if create { "create" } else { "get" },
        &[&request],
    )
    .and_then(|p| p.dyn_into())
    .map_err(|_| unsupported())?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|error| ceremony_error(&error, create))?;
    let json = call(&credential, "toJSON", &[]).map_err(|_| unsupported())?;
    JSON::stringify(&json)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(unsupported)
}

/// What to tell the person when the browser's passkey prompt ended without a passkey.
#[cfg(feature = "hydrate")]
fn ceremony_error(error: &leptos::wasm_bindgen::JsValue, create: bool) -> String {
    let name = js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => {
            "no passkey was chosen (the prompt was closed or timed out)".to_owned()
        }
        "InvalidStateError" if create => {
            "this authenticator holds a passkey for your account already".to_owned()
        }
        "SecurityError" => "this browser refuses passkeys at this address: open the portal at \
                            the address it was set up with (its --public-url)"
            .to_owned(),
        _ => "the browser could not complete the passkey request".to_owned(),
    }
}

/// Loads the page again (after a change an island made, so the server shows it).
#[cfg(feature = "hydrate")]
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Goes to `path` of this portal as a link would.
#[cfg(feature = "hydrate")]
pub fn go_to(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
}

//! QR codes as inline SVG, drawn on the server so the browser bundle carries no encoder.

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG of `payload`, scaled by CSS; `None` only if the payload is too long for a QR code.
pub fn qr_svg(payload: &str) -> Option<String> {
    let code = QrCode::new(payload.as_bytes()).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Drop the XML prolog: the SVG goes inline into HTML.
    Some(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::qr_svg;

    #[test]
    fn payloads_become_inline_svg() {
        let svg = qr_svg("https://portal.example/pair#code=BCDF-GHJK").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }
}

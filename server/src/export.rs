//! `/devices.csv`: the portal's current device view as CSV, streamed page by page so a
//! million devices never sit in memory at once.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use app::domain::device::DeviceSort;
use app::domain::paging::{MAX_PAGE_SIZE, PageRequest};
use app::model::Device;
use app::portal_session::PortalSession;
use app::services::{Actor, DeviceListQuery, ServiceError, Services};
use app::state::AppState;

use crate::api::problem::{ApiError, QueryParams};

const HEADER: &str =
    "id,name,platform,location_id,location,hardware_id,metadata,registered_at,last_seen_at\n";

pub async fn devices_csv(
    State(state): State<AppState>,
    session: PortalSession,
    RawQuery(raw): RawQuery,
) -> Response {
    let actor = match session.signed_in(&state.services).await {
        Ok((_, actor)) => actor,
        Err(error) => return ApiError(error).into_response(),
    };
    let params = QueryParams::parse(raw.as_deref());
    let page = match PageRequest::new(Some(0), Some(MAX_PAGE_SIZE)) {
        Ok(page) => page,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let query = DeviceListQuery {
        location_id: params.one("location").filter(|v| !v.is_empty()),
        metadata: params
            .one("metadata")
            .map(|m| m.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        platform: params.one("platform").filter(|v| !v.is_empty()),
        name_contains: params.one("q").filter(|v| !v.is_empty()),
        page,
    };
    // Check the filters once before the first byte goes out, so bad input is a 400.
    if let Err(error) = state.services.check_device_query(&actor, &query) {
        return ApiError(error).into_response();
    }
    let locations = match state.services.all_locations(&actor).await {
        Ok(locations) => locations.into_iter().map(|l| (l.id, l.name)).collect(),
        Err(error) => return ApiError(error).into_response(),
    };

    let pages = ExportPages {
        services: state.services.clone(),
        actor,
        query,
        locations,
        cursor: None,
        done: false,
        header_sent: false,
    };
    // Fused: the compression layer may ask once more after the end. An error fails the
    // stream, so the download breaks off instead of looking complete.
    let stream = futures_util::stream::unfold(pages, |mut pages| async move {
        match pages.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), pages)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(error = %error, "device export failed");
                pages.done = true;
                Some((Err(std::io::Error::other("the export failed")), pages))
            }
        }
    })
    .fuse();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"devices.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

struct ExportPages {
    services: Services,
    actor: Actor,
    query: DeviceListQuery,
    locations: Vec<(String, String)>,
    cursor: Option<String>,
    done: bool,
    header_sent: bool,
}

impl ExportPages {
    /// The next piece of the file; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<String>, ServiceError> {
        if !self.header_sent {
            self.header_sent = true;
            return Ok(Some(HEADER.to_owned()));
        }
        if self.done {
            return Ok(None);
        }
        // No count per page: exporting a million devices would count them ten thousand times.
        let (devices, next) = self
            .services
            .device_batch(
                &self.actor,
                self.query.clone(),
                DeviceSort::Registered,
                self.cursor.as_deref(),
            )
            .await?;
        self.cursor = next;
        self.done = self.cursor.is_none();
        let mut chunk = String::new();
        for device in &devices {
            let location = self
                .locations
                .iter()
                .find(|(id, _)| *id == device.location_id)
                .map_or("", |(_, name)| name.as_str());
            chunk.push_str(&csv_row(device, location));
        }
        Ok(Some(chunk))
    }
}

fn csv_row(device: &Device, location: &str) -> String {
    let metadata = device
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    let cells = [
        device.id.as_str(),
        device.name.as_str(),
        device.platform.as_str(),
        device.location_id.as_str(),
        location,
        device.hardware_id.as_str(),
        metadata.as_str(),
        device.created_at.as_str(),
        device.last_seen_at.as_deref().unwrap_or(""),
    ];
    let mut row = cells
        .iter()
        .map(|cell| csv_cell(cell))
        .collect::<Vec<_>>()
        .join(",");
    row.push('\n');
    row
}

/// One CSV cell: quoted when it must be, and never read as a formula by a spreadsheet.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("Till 1"), "Till 1");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
    }
}

//! The status of a pairing code, as a badge.

use leptos::prelude::*;

use crate::domain::enrollment::EnrollmentStatus;

/// What the code is waiting for, or what became of it; `data-status` is its API name.
#[component]
pub fn StatusBadge(status: EnrollmentStatus) -> impl IntoView {
    let (class, label) = match status {
        EnrollmentStatus::Pending => ("badge live", "Waiting for device"),
        EnrollmentStatus::Consumed => ("badge ok", "Device registered"),
        EnrollmentStatus::Expired => ("badge muted", "Expired"),
        EnrollmentStatus::Cancelled => ("badge muted", "Cancelled"),
    };
    view! { <span class=class data-status=status.as_str()>{label}</span> }
}

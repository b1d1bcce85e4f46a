//! Locations in pages: their names, and as the choices of a `<select>`.

use crate::model::Location;

/// The name of the location with this id, if it is one of `locations`.
pub fn location_name(locations: &[Location], id: &str) -> Option<String> {
    locations
        .iter()
        .find(|location| location.id == id)
        .map(|location| location.name.clone())
}

/// Each location as a choice: its id, labelled with its name.
pub fn location_choices(locations: &[Location]) -> Vec<(String, String)> {
    locations
        .iter()
        .map(|location| (location.id.clone(), location.name.clone()))
        .collect()
}

/// Each location as a choice, labelled with its name and city: where a code is made, two
/// stores of one name are told apart.
pub fn location_choices_with_city(locations: &[Location]) -> Vec<(String, String)> {
    locations
        .iter()
        .map(|location| {
            let label = match &location.city {
                Some(city) => format!("{} ({city})", location.name),
                None => location.name.clone(),
            };
            (location.id.clone(), label)
        })
        .collect()
}

//! Pages of list results in Kustom's envelope (`content`, `total_elements`, ...).

use serde::{Deserialize, Serialize};

use super::FieldError;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
/// The furthest into a list a page may start: reading past this many rows to skip them
/// costs more than any client needs (filter instead).
pub const MAX_OFFSET: i64 = 10_000_000;

/// Which page a client asks for; page numbers count from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page_number: i64,
    pub page_size: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page_number: 0,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    pub fn new(page_number: Option<i64>, page_size: Option<i64>) -> Result<Self, FieldError> {
        let page_number = page_number.unwrap_or(0);
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page_number < 0 {
            return Err(FieldError::new("page_number", "page_number counts from 0"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(FieldError::new(
                "page_size",
                format!("page_size is from 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        if page_number.saturating_mul(page_size) > MAX_OFFSET {
            return Err(FieldError::new(
                "page_number",
                format!(
                    "a page starts at most {MAX_OFFSET} entries into the list; filter to see what lies further"
                ),
            ));
        }
        Ok(Self {
            page_number,
            page_size,
        })
    }

    pub fn offset(self) -> i64 {
        self.page_number * self.page_size
    }
}

/// Kustom's page envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub content: Vec<T>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page_number: i64,
    pub page_size: i64,
    pub first: bool,
    pub last: bool,
}

impl<T> Page<T> {
    pub fn new(content: Vec<T>, total_elements: i64, request: PageRequest) -> Self {
        let total_pages = (total_elements + request.page_size - 1) / request.page_size;
        Self {
            content,
            total_elements,
            total_pages,
            page_number: request.page_number,
            page_size: request.page_size,
            first: request.page_number == 0,
            last: request.page_number + 1 >= total_pages,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            content: self.content.into_iter().map(f).collect(),
            total_elements: self.total_elements,
            total_pages: self.total_pages,
            page_number: self.page_number,
            page_size: self.page_size,
            first: self.first,
            last: self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_envelope_counts_pages() {
        let request = PageRequest::new(Some(1), Some(10)).unwrap();
        assert_eq!(request.offset(), 10);
        let page = Page::new(vec![1, 2, 3], 23, request);
        assert_eq!(page.total_pages, 3);
        assert!(!page.first);
        assert!(!page.last);
        let last = Page::new(vec![1], 21, request.with_number(2));
        assert!(last.last);
        let empty: Page<i32> = Page::new(vec![], 0, PageRequest::default());
        assert_eq!(empty.total_pages, 0);
        assert!(empty.first && empty.last);
    }

    #[test]
    fn page_bounds_are_checked() {
        assert_eq!(
            PageRequest::new(None, None).unwrap(),
            PageRequest::default()
        );
        assert_eq!(
            PageRequest::new(Some(-1), None).unwrap_err().field,
            "page_number"
        );
        assert_eq!(
            PageRequest::new(None, Some(0)).unwrap_err().field,
            "page_size"
        );
        assert_eq!(
            PageRequest::new(None, Some(101)).unwrap_err().field,
            "page_size"
        );
        assert!(PageRequest::new(Some(100_000), Some(100)).is_ok());
        assert_eq!(
            PageRequest::new(Some(100_001), Some(100))
                .unwrap_err()
                .field,
            "page_number"
        );
        assert_eq!(
            PageRequest::new(Some(i64::MAX), None).unwrap_err().field,
            "page_number"
        );
    }

    impl PageRequest {
        fn with_number(self, page_number: i64) -> Self {
            Self {
                page_number,
                ..self
            }
        }
    }
}

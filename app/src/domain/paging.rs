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

/// Where the next page of a list (newest first) starts: the creation time and id of the
/// last entry of a page, that next page's number, and how many entries the list had when
/// its first page was read. Clients get it as an opaque `next_cursor` and send it back as
/// `?cursor=`; the list then continues from that entry through the index, and is not
/// counted again, so a page costs the same however deep it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub page_number: i64,
    /// The list's `total_elements` when the walk began.
    pub total: i64,
    /// Milliseconds since the epoch, as stored.
    pub created_at: i64,
    pub id: String,
}

/// Longer cursors are none this API gave out.
pub const MAX_CURSOR_LENGTH: usize = 300;

#[cfg(feature = "ssr")]
impl PageCursor {
    const VERSION: &'static str = "c2";

    pub fn encode(&self) -> String {
        use base64::Engine;
        let plain = format!(
            "{}~{}~{}~{}~{}",
            Self::VERSION,
            self.page_number,
            self.total,
            self.created_at,
            self.id
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
    }

    pub fn decode(text: &str) -> Result<Self, FieldError> {
        use base64::Engine;
        let refused = || FieldError::new("cursor", "this is not a cursor this API gave out");
        if text.len() > MAX_CURSOR_LENGTH {
            return Err(refused());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| refused())?;
        let plain = String::from_utf8(bytes).map_err(|_| refused())?;
        let mut parts = plain.splitn(5, '~');
        let (Some(Self::VERSION), Some(page_number), Some(total), Some(created_at), Some(id)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(refused());
        };
        // No page this API numbers lies past MAX_OFFSET (see `continued_by`): a larger
        // number is forged, and would overflow the next page's.
        let page_number = page_number
            .parse::<i64>()
            .ok()
            .filter(|number| (0..=MAX_OFFSET).contains(number))
            .ok_or_else(refused)?;
        let total = total
            .parse::<i64>()
            .ok()
            .filter(|total| *total >= 0)
            .ok_or_else(refused)?;
        let created_at = created_at.parse::<i64>().map_err(|_| refused())?;
        Ok(Self {
            page_number,
            total,
            created_at,
            id: id.to_owned(),
        })
    }
}

/// Kustom's page envelope, and `next_cursor` to go on from (null on the last page).
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
    /// Pass as `cursor` to get the next page: as fast however deep the list is. A page got
    /// by cursor is not counted again: its `total_elements` (and `total_pages`) are those
    /// of the walk's first page, and `last` says whether anything follows it now.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(content: Vec<T>, total_elements: i64, request: PageRequest) -> Self {
        let total_pages = total_elements.saturating_add(request.page_size - 1) / request.page_size;
        Self {
            content,
            total_elements,
            total_pages,
            page_number: request.page_number,
            page_size: request.page_size,
            first: request.page_number == 0,
            last: request.page_number.saturating_add(1) >= total_pages,
            next_cursor: None,
        }
    }

    /// The page after `cursor`, whose `more` says whether any entry follows it (the list
    /// was read one entry past the page). The total is the one the cursor carries.
    pub fn after_cursor(content: Vec<T>, cursor: &PageCursor, page_size: i64, more: bool) -> Self {
        let request = PageRequest {
            page_number: cursor.page_number,
            page_size,
        };
        Self {
            last: !more,
            ..Self::new(content, cursor.total, request)
        }
    }

    /// Sets `next_cursor` from the page's last entry (`position` gives its creation time
    /// and id), unless this is the last page.
    #[cfg(feature = "ssr")]
    pub fn continued_by(mut self, position: impl Fn(&T) -> (i64, String)) -> Self {
        if !self.last
            && let Some((created_at, id)) = self.content.last().map(position)
        {
            let next = PageCursor {
                // A walk through more than MAX_OFFSET pages (of one entry each) numbers
                // the rest as that: decode refuses larger numbers.
                page_number: self.page_number.saturating_add(1).min(MAX_OFFSET),
                total: self.total_elements,
                created_at,
                id,
            };
            self.next_cursor = Some(next.encode());
        }
        self
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
            next_cursor: self.next_cursor,
        }
    }
}

/// Cuts `rows`, read one past a page of `page_size`, back to the page; true when there was
/// one more (so the page is not the last).
pub fn cut_to_page<T>(rows: &mut Vec<T>, page_size: i64) -> bool {
    let size = usize::try_from(page_size).unwrap_or(0);
    let more = rows.len() > size;
    rows.truncate(size);
    more
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

    #[cfg(feature = "ssr")]
    #[test]
    fn a_cursor_goes_through_its_text_and_refuses_others() {
        let cursor = PageCursor {
            page_number: 40_000,
            total: 1_000_000,
            created_at: 1_790_000_000_000,
            id: "01a2-b3~c4".into(),
        };
        let text = cursor.encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(PageCursor::decode(&text), Ok(cursor));
        use base64::Engine;
        // A cursor of the right shape whose time is no number.
        let not_a_time =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("c2~1~9~Till 7~id");
        for bad in [
            "",
            "%%%",
            "YzF-LTF-eA",
            "eA",
            &"A".repeat(MAX_CURSOR_LENGTH + 1),
            &not_a_time,
        ] {
            assert_eq!(
                PageCursor::decode(bad).unwrap_err().field,
                "cursor",
                "{bad}"
            );
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn only_a_page_before_the_last_has_a_next_cursor() {
        let request = PageRequest::new(Some(0), Some(2)).unwrap();
        let position = |n: &i32| (i64::from(*n), format!("id-{n}"));
        let first = Page::new(vec![1, 2], 3, request).continued_by(position);
        let cursor = PageCursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(
            (cursor.page_number, cursor.total, cursor.created_at),
            (1, 3, 2)
        );
        let last = Page::new(vec![3], 3, request.with_number(1)).continued_by(position);
        assert_eq!(last.next_cursor, None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_page_after_a_cursor_keeps_the_first_count_and_ends_where_the_rows_do() {
        let position = |n: &i32| (i64::from(*n), format!("id-{n}"));
        let cursor = PageCursor {
            page_number: 1,
            total: 7,
            created_at: 0,
            id: "id-0".into(),
        };
        // Read one past a page of 3: more follow, whatever the count said.
        let mut rows = vec![4, 5, 6, 7];
        assert!(cut_to_page(&mut rows, 3));
        assert_eq!(rows, [4, 5, 6]);
        let page = Page::after_cursor(rows, &cursor, 3, true).continued_by(position);
        assert_eq!((page.total_elements, page.total_pages), (7, 3));
        assert_eq!((page.page_number, page.first, page.last), (1, false, false));
        let next = PageCursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!((next.page_number, next.total, next.created_at), (2, 7, 6));
        // Entries removed since the count: nothing follows, though the count had more.
        let mut rows = vec![4];
        assert!(!cut_to_page(&mut rows, 3));
        let page = Page::after_cursor(rows, &cursor, 3, false).continued_by(position);
        assert!(page.last);
        assert_eq!(page.next_cursor, None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_forged_page_number_is_refused_and_none_overflows() {
        use base64::Engine;
        let forged = |page_number: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("c2~{page_number}~9~1790000000000~id"))
        };
        for number in [i64::MAX.to_string(), (MAX_OFFSET + 1).to_string()] {
            assert_eq!(
                PageCursor::decode(&forged(&number)).unwrap_err().field,
                "cursor",
                "{number}"
            );
        }
        let negative_total =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("c2~1~-1~1790000000000~id");
        assert!(PageCursor::decode(&negative_total).is_err());
        let deepest = PageCursor::decode(&forged(&MAX_OFFSET.to_string())).unwrap();
        let request = PageRequest {
            page_number: deepest.page_number,
            page_size: 1,
        };
        let page = Page::new(vec![1, 2], i64::MAX, request)
            .continued_by(|n: &i32| (i64::from(*n), n.to_string()));
        assert!(!page.last);
        let next = PageCursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.page_number, MAX_OFFSET);
        assert_eq!(page.total_pages, i64::MAX);
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

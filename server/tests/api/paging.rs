//! Lists go on from `next_cursor` as well as by page number: the same entries in the same
//! order, however the client walks them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use app::domain::paging::PageCursor;

use crate::helpers::{TestApp, expect_invalid_fields, expect_json};
use crate::on_both_databases;

on_both_databases!(
    devices_walked_by_cursor_match_the_numbered_pages,
    enrollments_walked_by_cursor_match_the_numbered_pages,
    a_cursor_not_given_out_is_refused_naming_it,
    a_walk_keeps_its_first_count_and_ends_where_the_entries_do,
);

async fn devices_walked_by_cursor_match_the_numbered_pages(app: &TestApp) {
    for i in 0..4 {
        app.enroll_device(json!({"batch": "a"}), &format!("hw-{i}"))
            .await;
    }
    // Several registered in the same millisecond: the id breaks the tie.
    app.clock.advance_seconds(1);
    for i in 4..8 {
        app.enroll_device(json!({"batch": "b"}), &format!("hw-{i}"))
            .await;
    }
    walk_both_ways(app, "/ipp/v1/devices?page_size=3", "id", 8).await;
    walk_both_ways(app, "/ipp/v1/devices?page_size=3&metadata=batch:b", "id", 4).await;
}

async fn enrollments_walked_by_cursor_match_the_numbered_pages(app: &TestApp) {
    for _ in 0..7 {
        app.create_enrollment(json!({})).await;
    }
    app.clock.advance_seconds(1);
    app.create_enrollment(json!({})).await;
    walk_both_ways(app, "/ipp/v1/enrollments?page_size=3", "enrollment_id", 8).await;
}

async fn a_cursor_not_given_out_is_refused_naming_it(app: &TestApp) {
    // Well-formed, but a page number no list reaches: the next one would overflow.
    let beyond_any_page = PageCursor {
        page_number: i64::MAX,
        total: 8,
        created_at: 1_790_000_000_000,
        id: "x".into(),
    }
    .encode();
    // The shape of a cursor, with a name where the time of the last entry goes.
    let not_a_time = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("c2~1~8~Till 7~x")
    };
    for path in ["/ipp/v1/devices", "/ipp/v1/enrollments"] {
        for cursor in [
            "nonsense",
            "YzF-eA",
            &"A".repeat(400),
            &beyond_any_page,
            &not_a_time,
        ] {
            let answer = app.get(&format!("{path}?cursor={cursor}")).await;
            assert_eq!(
                expect_invalid_fields(answer).await,
                vec!["cursor"],
                "{path}"
            );
        }
    }
}

/// A page read by cursor is not counted again: it tells the count the walk began with,
/// and whether it is the last from what follows it now, not from that count.
async fn a_walk_keeps_its_first_count_and_ends_where_the_entries_do(app: &TestApp) {
    for i in 0..5 {
        app.enroll_device(json!({}), &format!("hw-{i}")).await;
        app.clock.advance_seconds(1);
    }
    let list = "/ipp/v1/devices?page_size=2";
    let first = expect_json(app.get(list).await, StatusCode::OK).await;
    assert_eq!(
        (
            first["total_elements"].as_i64(),
            first["total_pages"].as_i64()
        ),
        (Some(5), Some(3))
    );
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Meanwhile a device is registered (it goes before the walk's position) and the
    // oldest one is deregistered (the one the walk's last page would have held).
    app.enroll_device(json!({}), "hw-new").await;
    let all = expect_json(
        app.get("/ipp/v1/devices?page_size=100").await,
        StatusCode::OK,
    )
    .await;
    let oldest = all["content"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = app
        .request(Method::DELETE, &format!("/ipp/v1/devices/{oldest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);

    let second = expect_json(
        app.get(&format!("{list}&cursor={cursor}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["total_elements"], 5, "the count the walk began with");
    assert_eq!(second["total_pages"], 3);
    assert_eq!(second["page_number"], 1);
    assert_eq!(second["content"].as_array().unwrap().len(), 2);
    assert_eq!(
        second["last"], true,
        "nothing follows, whatever the count said"
    );
    assert_eq!(second["next_cursor"], Value::Null);
}

/// Reads every page of `list` by number and again by cursor: the same ids in the same
/// order, the same envelope, and no `next_cursor` on the last page.
async fn walk_both_ways(app: &TestApp, list: &str, id_field: &str, total: usize) {
    let ids = |page: &Value| -> Vec<String> {
        page["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry[id_field].as_str().unwrap().to_owned())
            .collect()
    };
    let mut by_number = Vec::new();
    let mut numbered_pages = Vec::new();
    for number in 0.. {
        let page = expect_json(
            app.get(&format!("{list}&page_number={number}")).await,
            StatusCode::OK,
        )
        .await;
        by_number.extend(ids(&page));
        let last = page["last"].as_bool().unwrap();
        numbered_pages.push(page);
        if last {
            break;
        }
    }
    assert_eq!(by_number.len(), total);

    let mut by_cursor = Vec::new();
    let mut page = expect_json(app.get(list).await, StatusCode::OK).await;
    for numbered in &numbered_pages {
        assert_eq!(page["page_number"], numbered["page_number"]);
        assert_eq!(page["last"], numbered["last"]);
        assert_eq!(page["total_elements"], total);
        by_cursor.extend(ids(&page));
        let Some(cursor) = page["next_cursor"].as_str() else {
            assert_eq!(page["last"], true, "only the last page has no next_cursor");
            break;
        };
        page = expect_json(
            app.get(&format!("{list}&cursor={cursor}")).await,
            StatusCode::OK,
        )
        .await;
    }
    assert_eq!(by_cursor, by_number);
    let last = numbered_pages.last().unwrap();
    assert_eq!(last["next_cursor"], Value::Null);
}

//! Attacks an adversarial client can make on a running sandbox: unknown paths and methods that
//! would grow the counters without bound. The sandbox must keep its memory flat.

use juhe_proto::Endpoint;
use juhe_sandbox::{Sandbox, Stats, demo};

/// Unknown paths all count under one bucket: 2,000 distinct long paths leave `by_path` with
/// one entry for them and the stats document small. Made-up methods are not kept either.
#[tokio::test]
async fn unknown_paths_and_methods_count_under_one_bucket() {
    let sandbox = Sandbox::builder().build_in_process().unwrap();
    let long = "x".repeat(2_000);
    for i in 0..2_000 {
        let request = http::Request::get(format!("/{long}/{i}"))
            .body(Vec::new())
            .unwrap();
        let response = sandbox.handle(request).await.unwrap();
        assert_eq!(response.status(), 404);
    }
    let request = http::Request::get(format!(
        "{}?key={}&idcard={}&mobile={}",
        Endpoint::Plain.path(),
        demo::API_KEY,
        demo::MATCH.0,
        demo::MATCH.1
    ))
    .body(Vec::new())
    .unwrap();
    sandbox.handle(request).await.unwrap();
    let method = http::Method::from_bytes("X".repeat(4_000).as_bytes()).unwrap();
    let request = http::Request::builder()
        .method(method)
        .uri(Endpoint::Plain.path())
        .body(Vec::new())
        .unwrap();
    assert_eq!(sandbox.handle(request).await.unwrap().status(), 405);

    let stats = sandbox.stats();
    assert_eq!(stats.requests, 2_002);
    assert_eq!(stats.by_path.len(), 2, "{:?}", stats.by_path.keys());
    assert_eq!(stats.by_path.get(Stats::OTHER_PATHS), Some(&2_000));
    assert_eq!(stats.by_path.get(Endpoint::Plain.path()), Some(&2));

    let request = http::Request::get("/__sandbox/stats")
        .body(Vec::new())
        .unwrap();
    let body = sandbox.handle(request).await.unwrap().into_body();
    assert!(body.len() < 64 * 1024, "stats body is {} bytes", body.len());
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["stats"]["by_path"][Stats::OTHER_PATHS], 2_000);
    let recent = json["recent"].as_array().unwrap();
    assert_eq!(recent.last().unwrap()["method"], "(other)");
    assert_eq!(recent[recent.len() - 2]["method"], "GET");
}

//! Client overhead per check, without a network: validate + encrypt + encode the request +
//! parse the answer, through the public API with a closure transport returning a canned
//! answer. `cargo bench -p juhe-2fa`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use juhe_2fa::{AesConfig, ClientBuilder, HttpRequest, HttpResponse, Mode, TransportError};
use juhe_sandbox::demo;

const ANSWER: &[u8] =
    r#"{"reason":"成功","result":{"res":1,"orderid":"JH329201808081618556756"},"error_code":0}"#
        .as_bytes();

fn canned(_request: HttpRequest) -> Result<HttpResponse, TransportError> {
    Ok(http::Response::new(ANSWER.to_vec()))
}

fn modes() -> [(&'static str, Mode); 3] {
    [
        ("plain", Mode::Plain),
        (
            "aes128_cbc",
            Mode::Aes(AesConfig::new(demo::AES_KEY).unwrap()),
        ),
        ("rsa2048_oaep", Mode::rsa(demo::RSA_PUBLIC_KEY_B64).unwrap()),
    ]
}

fn overhead(c: &mut Criterion) {
    let (idcard, mobile) = demo::MATCH;
    for (name, mode) in modes() {
        let blocking = ClientBuilder::new()
            .api_key("k")
            .mode(mode.clone())
            .build_blocking_with_transport(canned)
            .unwrap();
        c.bench_function(&format!("client_overhead/blocking/{name}"), |b| {
            b.iter(|| {
                blocking
                    .verify(black_box(idcard), black_box(mobile))
                    .unwrap()
            })
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let transport = |r: HttpRequest| async move { canned(r) };
        let client = ClientBuilder::new()
            .api_key("k")
            .mode(mode)
            .build_with_transport(transport)
            .unwrap();
        c.bench_function(&format!("client_overhead/async/{name}"), |b| {
            b.iter(|| {
                rt.block_on(client.verify(black_box(idcard), black_box(mobile)))
                    .unwrap()
            })
        });
    }
    c.bench_function("validate/idcard_and_mobile", |b| {
        b.iter(|| {
            (
                juhe_2fa::IdCard::parse(black_box(idcard)).unwrap(),
                juhe_2fa::Mobile::parse(black_box(mobile)).unwrap(),
            )
        })
    });
}

criterion_group!(benches, overhead);
criterion_main!(benches);

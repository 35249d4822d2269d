//! Criterion benchmarks: AES of an 18-byte field, RSA-OAEP with 1024/2048/4096-bit keys,
//! key parsing. Run with `cargo xtask bench` or `cargo bench -p juhe-crypto`.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use juhe_crypto::{AesConfig, AesEncryptor, AesMode, FieldEncryptor, IvPolicy, RsaOaepEncryptor};
use std::hint::black_box;

const ID: &str = "110101199003077777";

fn aes(c: &mut Criterion) {
    for (name, mode, iv) in [
        ("aes128_cbc_same_as_key", AesMode::Cbc, IvPolicy::SameAsKey),
        (
            "aes128_cbc_random_prefix",
            AesMode::Cbc,
            IvPolicy::RandomPrefix,
        ),
        ("aes128_ecb", AesMode::Ecb, IvPolicy::SameAsKey),
    ] {
        let enc = AesEncryptor::new(
            AesConfig::new("1234567890abcdef")
                .unwrap()
                .with_mode(mode)
                .with_iv(iv),
        );
        c.bench_function(&format!("encrypt_18_bytes/{name}"), |b| {
            b.iter(|| enc.encrypt(black_box(ID)).unwrap())
        });
    }
}

fn rsa(c: &mut Criterion) {
    let keys = [
        ("rsa1024", include_str!("../tests/data/rsa1024/pub.b64")),
        ("rsa2048", include_str!("../tests/data/rsa2048/pub.b64")),
        (
            "rsa4096",
            include_str!("../tests/data/rsa4096_pub_pkcs1.pem"),
        ),
    ];
    for (name, key) in keys {
        let enc = RsaOaepEncryptor::from_public_key(key).unwrap();
        c.bench_function(&format!("encrypt_18_bytes/{name}_oaep_sha1"), |b| {
            b.iter(|| enc.encrypt(black_box(ID)).unwrap())
        });
        c.bench_function(&format!("parse_public_key/{name}"), |b| {
            b.iter(|| RsaOaepEncryptor::from_public_key(black_box(key)).unwrap())
        });
    }
    let pem = include_str!("../tests/data/rsa2048/pub.pem");
    c.bench_function("parse_public_key/rsa2048_pem", |b| {
        b.iter(|| RsaOaepEncryptor::from_public_key(black_box(pem)).unwrap())
    });
    c.bench_function("parse_aes_key/hex", |b| {
        b.iter(|| AesConfig::new(black_box("hex:000102030405060708090a0b0c0d0e0f")).unwrap())
    });
}

criterion_group!(benches, aes, rsa);
criterion_main!(benches);

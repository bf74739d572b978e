//! Negative tests: every one of these tokens must be rejected with a precise error.

use aws_lc_rs::hmac;
use podiam_oidc::*;

use crate::common::*;

fn header(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#)
}

fn verify(token: &str, set: &JwkSet) -> Result<(), TokenError> {
    UnverifiedToken::parse(token)?.verify_signature(set)
}

#[test]
fn alg_none_rejected() {
    let set = set_of(&[&rsa()]);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = craft_raw(&format!(r#"{{"alg":"{alg}"}}"#), &claims_json(), b"");
        assert!(t.ends_with('.'));
        assert_eq!(
            verify(&t, &set),
            Err(TokenError::UnsupportedAlgorithm(alg.into()))
        );
        // ... also with a kid and a bogus signature.
        let t = craft_raw(&header(alg, rsa().kid()), &claims_json(), b"sig");
        assert_eq!(
            verify(&t, &set),
            Err(TokenError::UnsupportedAlgorithm(alg.into()))
        );
    }
}

#[test]
fn hs256_with_public_key_as_hmac_secret_rejected() {
    let key = rsa();
    let set = set_of(&[&key]);
    // Classic algorithm confusion: HMAC keyed with public material the verifier holds.
    let secrets: [Vec<u8>; 3] = [
        key.public_key_der().to_vec(),
        jwks_document([key.jwk()]).into_bytes(),
        unb64(key.jwk().n.as_deref().unwrap()),
    ];
    for (alg, hmac_alg) in [
        ("HS256", hmac::HMAC_SHA256),
        ("HS384", hmac::HMAC_SHA384),
        ("HS512", hmac::HMAC_SHA512),
    ] {
        for secret in &secrets {
            let h = b64(header(alg, key.kid()));
            let p = b64(claims_json());
            let input = format!("{h}.{p}");
            let tag = hmac::sign(&hmac::Key::new(hmac_alg, secret), input.as_bytes());
            let t = format!("{input}.{}", b64(tag));
            assert_eq!(
                verify(&t, &set),
                Err(TokenError::UnsupportedAlgorithm(alg.into()))
            );
        }
    }
}

#[test]
fn ps256_eddsa_and_unknown_algs_rejected() {
    let key = rsa();
    for alg in ["PS256", "PS512", "EdDSA", "ES256K", "RS1", "rs256", ""] {
        let t = craft(&key, &header(alg, key.kid()), &claims_json());
        assert_eq!(
            verify(&t, &set_of(&[&key])),
            Err(TokenError::UnsupportedAlgorithm(alg.into())),
            "{alg}"
        );
    }
}

#[test]
fn rs256_header_with_ec_key_rejected() {
    let key = ec();
    let t = craft(&key, &header("RS256", key.kid()), &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&key, &rsa()])),
        Err(TokenError::KeyAlgorithmMismatch {
            alg: "RS256".into(),
            kid: Some(key.kid().into())
        })
    );
}

#[test]
fn es256_header_with_rsa_key_rejected() {
    let key = rsa();
    // Signed with the RSA key (256-byte signature) and with a plausible 64-byte one.
    for t in [
        craft(&key, &header("ES256", key.kid()), &claims_json()),
        craft_raw(&header("ES256", key.kid()), &claims_json(), &[1u8; 64]),
    ] {
        assert_eq!(
            verify(&t, &set_of(&[&key, &ec()])),
            Err(TokenError::KeyAlgorithmMismatch {
                alg: "ES256".into(),
                kid: Some(key.kid().into())
            })
        );
    }
}

#[test]
fn es384_header_on_p256_key_rejected() {
    let key = ec();
    let t = craft(&key, &header("ES384", key.kid()), &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&key])),
        Err(TokenError::KeyAlgorithmMismatch {
            alg: "ES384".into(),
            kid: Some(key.kid().into())
        })
    );
    // And a P-384 key with ES256.
    let p384 = key_p384();
    let t = craft(&p384, &header("ES256", p384.kid()), &claims_json());
    assert!(matches!(
        verify(&t, &set_of(&[&p384])),
        Err(TokenError::KeyAlgorithmMismatch { .. })
    ));
}

#[test]
fn curve_and_type_checked_even_when_jwk_has_no_alg() {
    let strip = |k: &SigningKey| {
        let mut v = serde_json::to_value(k.jwk()).unwrap();
        v.as_object_mut().unwrap().remove("alg");
        v
    };
    let (p256, p384, r) = (ec(), key_p384(), rsa());
    let doc = serde_json::json!({ "keys": [strip(&p256), strip(&p384), strip(&r)] }).to_string();
    let set = JwkSet::from_json(doc.as_bytes()).unwrap();
    assert!(set.keys().iter().all(|k| k.alg().is_none()));
    for (key, alg) in [
        (&p256, "ES384"),
        (&p256, "ES512"),
        (&p384, "ES256"),
        (&p256, "RS256"),
        (&r, "ES256"),
    ] {
        let t = craft(key, &header(alg, key.kid()), &claims_json());
        assert_eq!(
            verify(&t, &set),
            Err(TokenError::KeyAlgorithmMismatch {
                alg: alg.into(),
                kid: Some(key.kid().into())
            }),
            "{alg}"
        );
    }
    // Correct pairs verify.
    verify(&mint(&p256), &set).unwrap();
    verify(&mint(&p384), &set).unwrap();
    verify(&mint(&r), &set).unwrap();
}

fn key_p384() -> std::sync::Arc<SigningKey> {
    key(Algorithm::Es384, 0)
}

#[test]
fn jwk_alg_must_equal_header_alg() {
    let key = rsa();
    // The JWK says RS256; a token claiming RS512 with that key is refused before crypto.
    let t = craft(&key, &header("RS512", key.kid()), &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&key])),
        Err(TokenError::KeyAlgorithmMismatch {
            alg: "RS512".into(),
            kid: Some(key.kid().into())
        })
    );
    // Without "alg" in the JWK the key may verify RS512 — but this signature is RS256.
    let mut jwk = serde_json::to_value(key.jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    let set =
        JwkSet::from_json(serde_json::json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
    assert_eq!(verify(&t, &set), Err(TokenError::InvalidSignature));
    // ... and the RS256 token still verifies.
    verify(&mint(&key), &set).unwrap();
}

#[test]
fn kid_pointing_to_another_key_rejected() {
    let (a, b) = (rsa(), key(Algorithm::Rs256, 1));
    let t = craft(&a, &header("RS256", b.kid()), &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&a, &b])),
        Err(TokenError::InvalidSignature)
    );
}

#[test]
fn unknown_kid_rejected() {
    let t = craft(&rsa(), &header("RS256", "nope"), &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&rsa()])),
        Err(TokenError::UnknownKid("nope".into()))
    );
    assert_eq!(
        verify(&t, &JwkSet::default()),
        Err(TokenError::UnknownKid("nope".into()))
    );
}

#[test]
fn token_without_kid_and_two_keys() {
    let (a, b, c) = (rsa(), key(Algorithm::Rs256, 1), key(Algorithm::Rs256, 2));
    let set = set_of(&[&a, &ec(), &b]);
    // Signed by the second RSA key: every RSA key is tried, the right one verifies.
    let t = craft(&b, r#"{"alg":"RS256"}"#, &claims_json());
    verify(&t, &set).unwrap();
    // Signed by a key not in the set: rejected.
    let t = craft(&c, r#"{"alg":"RS256"}"#, &claims_json());
    assert_eq!(verify(&t, &set), Err(TokenError::InvalidSignature));
    // ES256 without kid against RSA-only keys: no candidate at all.
    let t = craft(&ec(), r#"{"alg":"ES256"}"#, &claims_json());
    assert_eq!(
        verify(&t, &set_of(&[&a, &b])),
        Err(TokenError::NoCompatibleKey)
    );
    // ... and ES256 without kid verifies with the P-256 key only.
    verify(&t, &set).unwrap();
}

#[test]
fn crit_header_rejected() {
    let key = rsa();
    for crit in [r#"["exp"]"#, r#"["b64"]"#, "[]", r#""b64""#] {
        let h = format!(
            r#"{{"alg":"RS256","kid":"{}","crit":{crit},"exp":1,"b64":true}}"#,
            key.kid()
        );
        let t = craft(&key, &h, &claims_json());
        assert!(
            matches!(
                verify(&t, &set_of(&[&key])),
                Err(TokenError::UnsupportedCriticalHeader(_))
            ),
            "{crit}"
        );
    }
}

#[test]
fn signature_of_another_key_rejected() {
    let (a, b) = (rsa(), key(Algorithm::Rs256, 1));
    let good = mint(&a);
    let forged = mint(&b);
    let t = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        forged.rsplit_once('.').unwrap().1
    );
    assert_eq!(
        verify(&t, &set_of(&[&a, &b])),
        Err(TokenError::InvalidSignature)
    );
    // Same for EC.
    let (a, b) = (ec(), key(Algorithm::Es256, 1));
    let t = format!(
        "{}.{}",
        mint(&a).rsplit_once('.').unwrap().0,
        mint(&b).rsplit_once('.').unwrap().1
    );
    assert_eq!(
        verify(&t, &set_of(&[&a, &b])),
        Err(TokenError::InvalidSignature)
    );
}

#[test]
fn tampered_payload_and_header_rejected() {
    for key in [rsa(), ec()] {
        let set = set_of(&[&key]);
        let good = mint(&key);
        let parts: Vec<&str> = good.split('.').collect();
        let claims = String::from_utf8(unb64(parts[1]))
            .unwrap()
            .replace(":app\"", ":admin\"");
        assert!(claims.contains("system:serviceaccount:default:admin"));
        let t = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert_eq!(verify(&t, &set), Err(TokenError::InvalidSignature));
        let h = format!(
            r#"{{"alg":"{}","kid":"{}","typ":"JWT"}}"#,
            key.algorithm(),
            key.kid()
        );
        let t = format!("{}.{}.{}", b64(h), parts[1], parts[2]);
        assert_eq!(verify(&t, &set), Err(TokenError::InvalidSignature));
        // Truncated / extended signatures.
        let sig = unb64(parts[2]);
        for bad in [
            &sig[..sig.len() - 1],
            &[sig.as_slice(), &[0]].concat()[..],
            &[][..],
        ] {
            let t = format!("{}.{}.{}", parts[0], parts[1], b64(bad));
            assert_eq!(verify(&t, &set), Err(TokenError::InvalidSignature));
        }
    }
}

#[test]
fn der_encoded_ecdsa_signature_rejected() {
    // JWS requires fixed-size r||s; a DER ECDSA-Sig-Value must not be accepted.
    let key = ec();
    let good = mint(&key);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let sig = unb64(sig);
    let der = |x: &[u8]| {
        let mut v: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    };
    let (r, s) = (der(&sig[..32]), der(&sig[32..]));
    let mut seq = vec![0x30, u8::try_from(r.len() + s.len()).unwrap()];
    seq.extend(r);
    seq.extend(s);
    let t = format!("{input}.{}", b64(seq));
    assert_eq!(
        verify(&t, &set_of(&[&key])),
        Err(TokenError::InvalidSignature)
    );
}

#[test]
fn weak_rsa_key_rejected() {
    // n of a real 1024-bit RSA key (tests/fixtures/rsa1024.pk8.der).
    let n = "2t1grdGYZv8T2FTMJUmxEYbux5o8XV-MKYJ_l-p4Ioq2zsM6Fa8LsP2lozB4CTTXVCD3xB3C50vSvxN6i3xGRyDL-L-W1vc6hvYLM5Jb2lEezvuJ9vWsQoB8NGggulaJGeP365ThHRyPtqouDZdz5QExed6e8cYot6dfFPySHQU";
    let jwks = format!(r#"{{"keys":[{{"kty":"RSA","kid":"weak","n":"{n}","e":"AQAB"}}]}}"#);
    let set = JwkSet::from_json(jwks.as_bytes()).unwrap();
    assert_eq!(set.keys()[0].key_type(), KeyType::Rsa { bits: 1024 });
    let t = craft_raw(&header("RS256", "weak"), &claims_json(), &[7u8; 128]);
    assert_eq!(
        verify(&t, &set),
        Err(TokenError::RsaKeySizeUnsupported { bits: 1024 })
    );
}

#[test]
fn key_source_headers_are_ignored_and_never_fetched() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let real = rsa();
        let attacker = key(Algorithm::Rs256, 3);
        let fetcher = std::sync::Arc::new(StaticFetcher::new());
        fetcher.serve_issuer(ISSUER, &default_jwks_uri(ISSUER), [real.jwk()]);
        // The attacker even hosts a JWKS with its key at the URLs it names.
        fetcher.serve_issuer("https://evil.example", "https://evil.example/jwks", [attacker.jwk()]);
        fetcher.insert("https://evil.example/x509", "-----BEGIN CERTIFICATE-----");
        let cache = JwksCache::new(fetcher.clone());
        let attacker_jwk = serde_json::to_string(attacker.jwk()).unwrap();
        let h = format!(
            r#"{{"alg":"RS256","kid":"{}","jku":"https://evil.example/jwks","x5u":"https://evil.example/x509","jwk":{attacker_jwk},"x5c":["MIIB"]}}"#,
            attacker.kid()
        );
        let forged = UnverifiedToken::parse(&craft(&attacker, &h, &claims_json())).unwrap();
        assert_eq!(
            cache.verify_signature(&forged, ISSUER, NOW).await.unwrap_err(),
            VerifyError::Token(TokenError::UnknownKid(attacker.kid().into()))
        );
        // Without kid: only the issuer's keys are tried.
        let h = r#"{"alg":"RS256","jku":"https://evil.example/jwks","x5u":"https://evil.example/x509"}"#;
        let forged = UnverifiedToken::parse(&craft(&attacker, h, &claims_json())).unwrap();
        assert_eq!(
            cache.verify_signature(&forged, ISSUER, NOW).await.unwrap_err(),
            VerifyError::Token(TokenError::InvalidSignature)
        );
        // A legitimately signed token carrying the same headers verifies (they are ignored).
        let h = format!(
            r#"{{"alg":"RS256","kid":"{}","jku":"https://evil.example/jwks","x5u":"https://evil.example/x509","jwk":{attacker_jwk}}}"#,
            real.kid()
        );
        let ok = UnverifiedToken::parse(&craft(&real, &h, &claims_json())).unwrap();
        cache.verify_signature(&ok, ISSUER, NOW).await.unwrap();

        let urls = fetcher.requested_urls();
        assert!(!urls.is_empty());
        assert!(urls.iter().all(|u| u.starts_with(ISSUER)), "{urls:?}");
        assert!(!urls.iter().any(|u| u.contains("evil")), "{urls:?}");
    });
}

#[test]
fn huge_token_rejected() {
    let pad = "a".repeat(20_000);
    let claims = format!(r#"{{"iss":"{ISSUER}","pad":"{pad}"}}"#);
    let t = craft_raw(r#"{"alg":"RS256"}"#, &claims, &[0; 256]);
    assert!(t.len() > 20_000);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap_err(),
        TokenError::InvalidLength { len: t.len() }
    );
    assert_eq!(
        UnverifiedToken::parse(&"a.b.c".repeat(100_000)).unwrap_err(),
        TokenError::InvalidLength { len: 500_000 }
    );
    assert_eq!(
        UnverifiedToken::parse("a.b").unwrap_err(),
        TokenError::InvalidLength { len: 3 }
    );
    assert_eq!(
        UnverifiedToken::parse("  \n").unwrap_err(),
        TokenError::InvalidLength { len: 0 }
    );
    // The limit is inclusive: exactly 20000 characters still parses.
    let make = |p: usize| {
        craft_raw(
            r#"{"alg":"RS256"}"#,
            &format!(r#"{{"p":"{}"}}"#, "x".repeat(p)),
            &[0; 256],
        )
    };
    let estimate = (20_000 - make(0).len()) * 3 / 4;
    let exact = (estimate.saturating_sub(4)..estimate + 4)
        .map(make)
        .find(|t| t.len() == 20_000)
        .expect("some padding gives exactly 20000 characters");
    UnverifiedToken::parse(&exact).unwrap();
    let over = format!("{exact}A");
    assert!(matches!(
        UnverifiedToken::parse(&over),
        Err(TokenError::InvalidLength { len: 20_001 })
    ));
}

#[test]
fn deeply_nested_json_rejected_without_stack_overflow() {
    let deep = format!(r#"{{"iss":"x","a":{}}}"#, "[".repeat(10_000));
    let t = craft_raw(r#"{"alg":"RS256"}"#, &deep, &[0; 8]);
    assert!(t.len() < 20_000);
    match UnverifiedToken::parse(&t) {
        Err(TokenError::InvalidJson {
            segment: Segment::Claims,
            reason,
        }) => {
            assert!(reason.contains("recursion limit"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // Balanced but deep (129 levels) is also refused; 100 levels are fine.
    let balanced = |d: usize| format!(r#"{{"a":{}{}}}"#, "[".repeat(d), "]".repeat(d));
    let t = craft_raw(r#"{"alg":"RS256"}"#, &balanced(200), &[0; 8]);
    assert!(matches!(
        UnverifiedToken::parse(&t),
        Err(TokenError::InvalidJson { .. })
    ));
    let t = craft_raw(r#"{"alg":"RS256"}"#, &balanced(100), &[0; 8]);
    UnverifiedToken::parse(&t).unwrap();
    // Deep header / deep non-object.
    let t = craft_raw(&"[".repeat(3000), "{}", &[0; 8]);
    assert!(matches!(
        UnverifiedToken::parse(&t),
        Err(TokenError::InvalidJson {
            segment: Segment::Header,
            ..
        })
    ));
    let t = craft_raw(r#"{"alg":"RS256"}"#, &"[".repeat(10_000), &[0; 8]);
    assert!(matches!(
        UnverifiedToken::parse(&t),
        Err(TokenError::InvalidJson {
            segment: Segment::Claims,
            ..
        })
    ));
}

#[test]
fn non_integer_timestamps_rejected() {
    for (claim, value) in [
        ("exp", r#""123""#),
        ("exp", "1.5"),
        ("exp", "1700000000.0"),
        ("exp", "1.7e9"),
        ("exp", "null"),
        ("exp", "true"),
        ("exp", "[1700000000]"),
        ("exp", "99999999999999999999"),
        ("nbf", r#""1700000000""#),
        ("nbf", "0.5"),
        ("iat", "{}"),
        ("iat", "-1.0"),
    ] {
        let claims = format!(r#"{{"iss":"{ISSUER}","{claim}":{value}}}"#);
        let t = craft(&rsa(), &header("RS256", rsa().kid()), &claims);
        let name: &'static str = match claim {
            "exp" => "exp",
            "nbf" => "nbf",
            _ => "iat",
        };
        assert_eq!(
            UnverifiedToken::parse(&t).unwrap_err(),
            TokenError::InvalidClaimType(name),
            "{claim}={value}"
        );
    }
    // Plain (also negative) integers are fine.
    let t = craft(
        &rsa(),
        &header("RS256", rsa().kid()),
        r#"{"exp":1700000000,"nbf":-5,"iat":0}"#,
    );
    let tok = UnverifiedToken::parse(&t).unwrap();
    assert_eq!(
        (tok.exp(), tok.nbf(), tok.iat()),
        (Some(1_700_000_000), Some(-5), Some(0))
    );
}

#[test]
fn other_claim_types_checked() {
    for (claims, name) in [
        (r#"{"iss":5}"#, "iss"),
        (r#"{"sub":["a"]}"#, "sub"),
        (r#"{"aud":5}"#, "aud"),
        (r#"{"aud":["a",5]}"#, "aud"),
        (r#"{"aud":{"a":1}}"#, "aud"),
    ] {
        let t = craft_raw(r#"{"alg":"RS256"}"#, claims, &[0; 8]);
        assert_eq!(
            UnverifiedToken::parse(&t).unwrap_err(),
            TokenError::InvalidClaimType(name),
            "{claims}"
        );
    }
    let t = craft_raw(r#"{"alg":"RS256"}"#, r#"{"aud":"single"}"#, &[0; 8]);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap().audiences(),
        ["single".to_string()]
    );
    for (h, err) in [
        (r#"{"kid":"x"}"#, TokenError::MissingHeader("alg")),
        (r#"{"alg":256}"#, TokenError::InvalidHeaderType("alg")),
        (
            r#"{"alg":"RS256","kid":7}"#,
            TokenError::InvalidHeaderType("kid"),
        ),
        (r#"["alg"]"#, TokenError::NotAnObject(Segment::Header)),
    ] {
        let t = craft_raw(h, "{}", &[0; 8]);
        assert_eq!(UnverifiedToken::parse(&t).unwrap_err(), err, "{h}");
    }
    let big = format!(r#"{{"alg":"RS256","x":"{}"}}"#, "y".repeat(5000));
    let t = craft_raw(&big, "{}", &[0; 8]);
    assert!(matches!(
        UnverifiedToken::parse(&t),
        Err(TokenError::HeaderTooLarge { .. })
    ));
}

#[test]
fn duplicate_members_rejected() {
    let t = craft_raw(r#"{"alg":"RS256"}"#, r#"{"iss":"a","iss":"b"}"#, &[0; 8]);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap_err(),
        TokenError::DuplicateMember {
            segment: Segment::Claims,
            name: "iss".into()
        }
    );
    let t = craft_raw(r#"{"alg":"none","alg":"RS256"}"#, "{}", &[0; 8]);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap_err(),
        TokenError::DuplicateMember {
            segment: Segment::Header,
            name: "alg".into()
        }
    );
}

#[test]
fn expired_with_aws_exact_message() {
    let key = rsa();
    let claims = format!(r#"{{"iss":"{ISSUER}","aud":"{AUD}","exp":1624482335}}"#);
    let tok = UnverifiedToken::parse(&craft(&key, &header("RS256", key.kid()), &claims)).unwrap();
    let err = tok.check_time(1_624_482_533, 0).unwrap_err();
    assert_eq!(
        err,
        TokenError::Expired {
            now: 1_624_482_533,
            exp: 1_624_482_335
        }
    );
    assert_eq!(
        err.to_string(),
        "Token expired: current date/time 1624482533 must be before the expiration date/time1624482335"
    );
    assert_eq!(err.sts_error_code(), StsErrorCode::ExpiredTokenException);
    assert_eq!(err.sts_error_code().as_str(), "ExpiredTokenException");
    // Boundary: valid strictly before exp; leeway extends it.
    assert!(tok.check_time(1_624_482_334, 0).is_ok());
    assert!(matches!(
        tok.check_time(1_624_482_335, 0),
        Err(TokenError::Expired { .. })
    ));
    assert!(tok.check_time(1_624_482_335, 60).is_ok());
    assert!(matches!(
        tok.check_time(1_624_482_395, 60),
        Err(TokenError::Expired { .. })
    ));
    // exp is mandatory.
    let tok = UnverifiedToken::parse(&craft(&key, &header("RS256", key.kid()), "{}")).unwrap();
    assert_eq!(tok.check_time(0, 0), Err(TokenError::MissingClaim("exp")));
    // Extremes don't overflow.
    let tok = UnverifiedToken::parse(&craft_raw(
        r#"{"alg":"RS256"}"#,
        &format!(
            r#"{{"exp":{},"nbf":{},"iat":{}}}"#,
            i64::MAX,
            i64::MIN,
            i64::MAX
        ),
        &[0],
    ))
    .unwrap();
    assert!(matches!(
        tok.check_time(i64::MAX, i64::MAX),
        Err(TokenError::Expired { .. })
    ));
    assert!(matches!(
        tok.check_time(i64::MIN, i64::MAX),
        Err(TokenError::IssuedInFuture { .. })
    ));
}

#[test]
fn not_yet_valid_and_issued_in_future() {
    let key = ec();
    let tok = UnverifiedToken::parse(&mint(&key)).unwrap();
    assert_eq!(
        tok.check_time(NOW - 1, 0),
        Err(TokenError::NotYetValid {
            now: NOW - 1,
            nbf: NOW
        })
    );
    assert!(tok.check_time(NOW - 1, 1).is_ok());
    let t = craft(
        &key,
        &header("ES256", key.kid()),
        &format!(r#"{{"exp":{},"iat":{}}}"#, NOW + 100, NOW + 10),
    );
    let tok = UnverifiedToken::parse(&t).unwrap();
    assert_eq!(
        tok.check_time(NOW, 0),
        Err(TokenError::IssuedInFuture {
            now: NOW,
            iat: NOW + 10
        })
    );
    assert_eq!(
        TokenError::NotYetValid { now: 1, nbf: 2 }.sts_error_code(),
        StsErrorCode::InvalidIdentityToken
    );
}

#[test]
fn max_age_check() {
    let tok = UnverifiedToken::parse(&mint(&ec())).unwrap();
    assert!(tok.check_max_age(NOW + 100, 100).is_ok());
    let err = tok.check_max_age(NOW + 441_398, 86_400).unwrap_err();
    assert_eq!(err.to_string(), "Token too old: 441398");
    assert_eq!(err.sts_error_code(), StsErrorCode::ExpiredTokenException);
}

#[test]
fn audience_checks() {
    let tok = UnverifiedToken::parse(&mint(&ec())).unwrap();
    let err = tok.check_audience(&["sts.amazon.com"]).unwrap_err();
    assert_eq!(err.to_string(), "Incorrect token audience");
    assert_eq!(err.sts_error_code(), StsErrorCode::InvalidIdentityToken);
    assert_eq!(
        tok.check_audience::<&str>(&[]),
        Err(TokenError::AudienceMismatch)
    );
    assert_eq!(
        tok.check_audience(&["STS.AMAZONAWS.COM"]),
        Err(TokenError::AudienceMismatch)
    );
    let t = craft_raw(r#"{"alg":"RS256"}"#, "{}", &[0]);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap().check_audience(&[AUD]),
        Err(TokenError::AudienceMismatch)
    );
}

#[test]
fn surrounding_whitespace_and_trailing_newline_accepted() {
    let key = rsa();
    let token = mint(&key);
    for variant in [
        format!("{token}\n"),
        format!("{token}\r\n"),
        format!("  \t{token} \n\n"),
    ] {
        let tok = UnverifiedToken::parse(&variant).unwrap();
        assert_eq!(tok.as_str(), token);
        tok.verify_signature(&set_of(&[&key])).unwrap();
    }
    // Whitespace *inside* is not base64url.
    let (a, b) = token.split_at(10);
    assert!(matches!(
        UnverifiedToken::parse(&format!("{a}\n{b}")),
        Err(TokenError::InvalidBase64(Segment::Header))
    ));
}

#[test]
fn bad_base64_rejected() {
    let token = mint(&rsa());
    let parts: Vec<&str> = token.split('.').collect();
    // Padding on any segment.
    for (i, seg) in [Segment::Header, Segment::Claims, Segment::Signature]
        .into_iter()
        .enumerate()
    {
        let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
        p[i].push('=');
        assert_eq!(
            UnverifiedToken::parse(&p.join(".")).unwrap_err(),
            TokenError::InvalidBase64(seg)
        );
        p[i].push('=');
        assert_eq!(
            UnverifiedToken::parse(&p.join(".")).unwrap_err(),
            TokenError::InvalidBase64(seg)
        );
    }
    // Standard-alphabet characters in place of URL-safe ones (same length).
    for c in ['+', '/', '*', '~'] {
        let sig = format!("{c}{}", &parts[2][1..]);
        let t = format!("{}.{}.{sig}", parts[0], parts[1]);
        assert_eq!(
            UnverifiedToken::parse(&t).unwrap_err(),
            TokenError::InvalidBase64(Segment::Signature)
        );
    }
    let padded_header = format!("{}=", b64(r#"{"alg":"RS256"}x"#));
    assert!(matches!(
        UnverifiedToken::parse(&format!("{padded_header}.{}.{}", parts[1], parts[2])),
        Err(TokenError::InvalidBase64(Segment::Header))
    ));
    // Non-canonical trailing bits ("AR" vs "AQ").
    let t = format!("{}.{}.AR", parts[0], parts[1]);
    assert_eq!(
        UnverifiedToken::parse(&t).unwrap_err(),
        TokenError::InvalidBase64(Segment::Signature)
    );
}

#[test]
fn wrong_segment_counts_rejected() {
    let token = mint(&ec());
    assert_eq!(
        UnverifiedToken::parse(&format!("{token}.extra")).unwrap_err(),
        TokenError::WrongSegmentCount { found: 4 }
    );
    assert_eq!(
        UnverifiedToken::parse("abcd.efgh").unwrap_err(),
        TokenError::WrongSegmentCount { found: 2 }
    );
    assert_eq!(
        UnverifiedToken::parse("a.b.c.d.e").unwrap_err(),
        TokenError::WrongSegmentCount { found: 5 }
    );
    assert_eq!(
        UnverifiedToken::parse("abcdefgh").unwrap_err(),
        TokenError::WrongSegmentCount { found: 1 }
    );
    assert_eq!(
        UnverifiedToken::parse("..sig").unwrap_err(),
        TokenError::EmptySegment(Segment::Header)
    );
    assert_eq!(
        UnverifiedToken::parse("eyJ9..sig").unwrap_err(),
        TokenError::EmptySegment(Segment::Claims)
    );
}

#[test]
fn jwks_with_malformed_entries_keeps_good_keys() {
    let good = rsa();
    let e = ec();
    let good_jwk = serde_json::to_value(good.jwk()).unwrap();
    let mut bad_ec = serde_json::to_value(e.jwk()).unwrap();
    bad_ec["x"] = serde_json::json!(b64([1u8; 31]));
    let mut off_curve = serde_json::to_value(e.jwk()).unwrap();
    off_curve["y"] = serde_json::json!(b64([1u8; 32]));
    let mut enc = good_jwk.clone();
    enc["use"] = serde_json::json!("enc");
    let doc = serde_json::json!({"keys": [
        {"kty": "oct", "k": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "RSA", "n": "!!!", "e": "AQAB"},
        {"kty": "RSA", "n": "", "e": "AQAB"},
        {"kty": "RSA", "kid": 5, "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-256K", "x": "AA", "y": "AA"},
        bad_ec, off_curve, enc, 17, "str", null,
        good_jwk,
    ]});
    let set = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped(), 12);
    verify(&mint(&good), &set).unwrap();
    // Whole-document failures.
    for bad in [
        &b"[]"[..],
        b"{}",
        br#"{"keys":{}}"#,
        b"nope",
        br#"{"keys":[],"keys":[]}"#,
    ] {
        assert!(JwkSet::from_json(bad).is_err());
    }
    // Over the per-set cap: only the first MAX_KEYS_PER_SET entries are examined.
    let many: Vec<serde_json::Value> = (0..150).map(|_| serde_json::json!({"kty":"oct"})).collect();
    let set =
        JwkSet::from_json(serde_json::json!({ "keys": many }).to_string().as_bytes()).unwrap();
    assert_eq!((set.len(), set.skipped()), (0, 150));
}

#[test]
fn jwk_leading_zero_and_padding_tolerated() {
    // Some producers prefix n with 0x00 or pad members; the key is still usable.
    let key = rsa();
    let n = unb64(key.jwk().n.as_deref().unwrap());
    let mut padded_n = vec![0u8];
    padded_n.extend(&n);
    let n = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &padded_n);
    let doc = format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"{}","n":"{n}","e":"AQAB"}}]}}"#,
        key.kid()
    );
    let set = JwkSet::from_json(doc.as_bytes()).unwrap();
    assert_eq!(set.keys()[0].key_type(), KeyType::Rsa { bits: 2048 });
    verify(&mint(&key), &set).unwrap();
}

#[test]
fn error_codes_map_like_sts() {
    assert_eq!(
        TokenError::InvalidSignature.sts_error_code().as_str(),
        "InvalidIdentityToken"
    );
    assert_eq!(
        TokenError::UnknownKid("k".into()).sts_error_code(),
        StsErrorCode::InvalidIdentityToken
    );
    let fetch = FetchError::HttpStatus {
        url: "u".into(),
        status: 500,
    };
    assert_eq!(fetch.sts_error_code().as_str(), "InvalidIdentityToken");
    assert_eq!(
        VerifyError::from(fetch).sts_error_code(),
        StsErrorCode::InvalidIdentityToken
    );
    assert_eq!(
        VerifyError::from(TokenError::Expired { now: 2, exp: 1 }).sts_error_code(),
        StsErrorCode::ExpiredTokenException
    );
}

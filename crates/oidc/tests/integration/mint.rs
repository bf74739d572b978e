use podiam_oidc::*;

use crate::common::*;

#[test]
fn rs256_round_trip() {
    let key = rsa();
    let token = mint(&key);
    let tok = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(tok.header_alg(), "RS256");
    assert_eq!(tok.kid(), Some(key.kid()));
    assert_eq!(tok.issuer(), Some(ISSUER));
    assert_eq!(tok.subject(), Some("system:serviceaccount:default:app"));
    assert_eq!(tok.audiences(), [AUD.to_string()]);
    assert_eq!(
        (tok.iat(), tok.nbf(), tok.exp()),
        (Some(NOW), Some(NOW), Some(NOW + 3600))
    );
    tok.verify_signature(&set_of(&[&key])).unwrap();
    tok.check_time(NOW, 0).unwrap();
    assert_eq!(tok.check_audience(&["other", AUD]).unwrap(), AUD);
    // 256-byte PKCS#1 signature for RSA-2048.
    let sig = token.rsplit('.').next().unwrap();
    assert_eq!(unb64(sig).len(), 256);
}

#[test]
fn es256_round_trip() {
    let key = ec();
    let token = mint(&key);
    let tok = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(tok.header_alg(), "ES256");
    tok.verify_signature(&set_of(&[&rsa(), &key])).unwrap();
    let sig = token.rsplit('.').next().unwrap();
    assert_eq!(unb64(sig).len(), 64, "fixed-size r||s");
}

#[test]
fn es384_and_es512_round_trip() {
    for alg in [Algorithm::Es384, Algorithm::Es512] {
        let key = key(alg, 0);
        let tok = UnverifiedToken::parse(&mint(&key)).unwrap();
        assert_eq!(tok.header_alg(), alg.as_str());
        tok.verify_signature(&set_of(&[&key])).unwrap();
    }
    assert_eq!(
        SigningKey::generate(Algorithm::Rs384).unwrap_err(),
        KeyError::UnsupportedAlgorithm("RS384")
    );
}

#[test]
fn kid_is_sha256_of_spki_for_generated_keys() {
    for key in [rsa(), ec()] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_key_der());
        assert_eq!(key.kid(), b64(digest));
        assert_eq!(key.kid().len(), 43);
        assert!(
            key.kid()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(key.jwk().kid, key.kid());
    }
    // The SPKI really is the X.509 SubjectPublicKeyInfo (rsaEncryption / id-ecPublicKey+P-256).
    let rsa_prefix = [
        0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00,
    ];
    assert!(rsa().public_key_der().starts_with(&rsa_prefix));
    let ec_prefix = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    assert!(ec().public_key_der().starts_with(&ec_prefix));
}

#[test]
fn kid_and_jwk_match_known_vectors_computed_with_openssl() {
    // Expected values computed outside the crate (see tests/fixtures/README.md).
    let ec = SigningKey::from_pkcs8_der(&fixture("p256.pk8.der")).unwrap();
    assert_eq!(ec.algorithm(), Algorithm::Es256);
    assert_eq!(ec.kid(), "VJkyKoRY0i2Uv1E6gFklR21oGyCISZT4dxcC8bkaFD8");
    assert_eq!(
        jwks_document([ec.jwk()]),
        r#"{"keys":[{"use":"sig","kty":"EC","kid":"VJkyKoRY0i2Uv1E6gFklR21oGyCISZT4dxcC8bkaFD8","crv":"P-256","alg":"ES256","x":"XIh0Xi_PUdnTsP23sUQ7qa6o0p6ffA8fIXnM0B5BBvE","y":"OJVJbnP-5I97SUfPODNSwebowOGbKn0_3G58LXq0uSU"}]}"#
    );

    let rsa = SigningKey::from_pkcs8_der(&fixture("rsa2048.pk8.der")).unwrap();
    assert_eq!(rsa.algorithm(), Algorithm::Rs256);
    assert_eq!(rsa.kid(), "VfYi1gRKelmks9HM_GHidBT3pXY38i_fM0tVmMw-2RA");
    let n = "8V5Tpx42o7uwUeFlaROVOXFCAQXSVWYE9_O0cK9I3glMd9p2elp93xQEB9Mhsc62-yC1DBAB72mpdscB-00cb3Ic6NzG3uC1fvNhJoEayX-bYwNLG1eVLw1Y5Kj0bzONlK0QYoiZLK2l8FSvqI591ecib6QoLLIJ4WgVg9r0XXmDPOfph9CD4y-Fvvp_bUzQASJOUaf7NVUtwSVkqmY2EjG-or2twZCWZX-tEmB_PDovPVAlQd8AN6I5zya8Rcvyl4HXiyvB5V10UEShgDbFvfawmC69euS6uh6FowANUGKBCUob2Bdy8S4E5OiYev1epaV8WDAGRcDpb3qibBquxw";
    assert_eq!(
        jwks_document([rsa.jwk()]),
        format!(
            r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"VfYi1gRKelmks9HM_GHidBT3pXY38i_fM0tVmMw-2RA","alg":"RS256","n":"{n}","e":"AQAB"}}]}}"#
        )
    );
    // A token signed with the imported key verifies against the independently-known JWK.
    let tok = UnverifiedToken::parse(&mint(&rsa)).unwrap();
    let jwks = format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"VfYi1gRKelmks9HM_GHidBT3pXY38i_fM0tVmMw-2RA","n":"{n}","e":"AQAB"}}]}}"#
    );
    tok.verify_signature(&JwkSet::from_json(jwks.as_bytes()).unwrap())
        .unwrap();
}

#[test]
fn weak_or_foreign_keys_are_refused_on_import() {
    assert!(matches!(
        SigningKey::from_pkcs8_der(&fixture("rsa1024.pk8.der")),
        Err(KeyError::Rejected(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"not a key"),
        Err(KeyError::Rejected(_))
    ));
}

#[test]
fn pkcs8_round_trip_preserves_identity() {
    for key in [rsa(), ec(), key(Algorithm::Es384, 0)] {
        let again = SigningKey::from_pkcs8_der(key.to_pkcs8_der()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.jwk(), key.jwk());
        assert_eq!(again.algorithm(), key.algorithm());
        let tok = UnverifiedToken::parse(&mint(&again)).unwrap();
        tok.verify_signature(&set_of(&[&key])).unwrap();
    }
}

fn payload_of(token: &str) -> String {
    String::from_utf8(unb64(token.split('.').nth(1).unwrap())).unwrap()
}

fn header_of(token: &str) -> String {
    String::from_utf8(unb64(token.split('.').next().unwrap())).unwrap()
}

#[test]
fn claims_layout_matches_kube_apiserver_golden() {
    let key = rsa();
    let minted = request()
        .with_expiration_seconds(3607)
        .with_pod("app-7d9f", "0e4c1a52-aaaa-4bbb-8ccc-000000000002")
        .with_node("node-1", "0e4c1a52-aaaa-4bbb-8ccc-000000000003")
        .mint(&key)
        .unwrap();
    // Byte-exact: go-jose re-encodes claims as Go maps, so keys are sorted at every level.
    assert_eq!(
        payload_of(&minted.token),
        concat!(
            r#"{"aud":["sts.amazonaws.com"],"exp":1700003607,"iat":1700000000,"#,
            r#""iss":"http://127.0.0.1:4599/clusters/demo","jti":"42424242-4242-4242-8242-424242424242","#,
            r#""kubernetes.io":{"namespace":"default","node":{"name":"node-1","uid":"0e4c1a52-aaaa-4bbb-8ccc-000000000003"},"#,
            r#""pod":{"name":"app-7d9f","uid":"0e4c1a52-aaaa-4bbb-8ccc-000000000002"},"#,
            r#""serviceaccount":{"name":"app","uid":"5b1b7e3c-0000-4000-8000-000000000001"}},"#,
            r#""nbf":1700000000,"sub":"system:serviceaccount:default:app"}"#
        )
    );
    assert_eq!(
        header_of(&minted.token),
        format!(r#"{{"alg":"RS256","kid":"{}"}}"#, key.kid())
    );
    assert_eq!(minted.expires_at(), NOW + 3607);

    // Without a pod: no pod and no node (node info only accompanies pod-bound tokens).
    let plain = request()
        .with_node("node-1", "x")
        .with_audiences(["a", "b"])
        .mint(&key)
        .unwrap();
    assert_eq!(
        payload_of(&plain.token),
        concat!(
            r#"{"aud":["a","b"],"exp":1700003600,"iat":1700000000,"#,
            r#""iss":"http://127.0.0.1:4599/clusters/demo","jti":"42424242-4242-4242-8242-424242424242","#,
            r#""kubernetes.io":{"namespace":"default","serviceaccount":{"name":"app","uid":"5b1b7e3c-0000-4000-8000-000000000001"}},"#,
            r#""nbf":1700000000,"sub":"system:serviceaccount:default:app"}"#
        )
    );
}

#[test]
fn node_uid_omitted_when_empty_like_go_omitempty() {
    let minted = request()
        .with_pod("p", "u")
        .with_node("n", "")
        .mint(&ec())
        .unwrap();
    assert!(
        payload_of(&minted.token).contains(r#""node":{"name":"n"},"pod":{"name":"p","uid":"u"}"#)
    );
}

#[test]
fn html_characters_escaped_like_go() {
    let mut req = request();
    req.issuer = "https://x.example/a?b&c<d>".into();
    let minted = req.mint(&ec()).unwrap();
    assert!(
        payload_of(&minted.token).contains(r#""iss":"https://x.example/a?b\u0026c\u003cd\u003e""#)
    );
    // And it still parses back to the original string.
    let tok = UnverifiedToken::parse(&minted.token).unwrap();
    assert_eq!(tok.issuer(), Some("https://x.example/a?b&c<d>"));
}

#[test]
fn expiration_bounds_follow_kube() {
    let key = ec();
    let r = |s: i64| {
        request()
            .with_expiration_seconds(s)
            .mint(&key)
            .map(|m| m.claims.exp)
    };
    assert_eq!(r(599), Err(MintError::ExpirationTooShort));
    assert_eq!(r(-1), Err(MintError::ExpirationTooShort));
    assert_eq!(r(600), Ok(NOW + 600));
    assert_eq!(r(1 << 32), Ok(NOW + (1 << 32)));
    assert_eq!(r((1 << 32) + 1), Err(MintError::ExpirationTooLong));
    assert_eq!(
        MintError::ExpirationTooShort.to_string(),
        "may not specify a duration less than 10 minutes"
    );
    let mut req = request();
    req.now = i64::MAX - 100;
    assert_eq!(req.mint(&key).unwrap_err(), MintError::TimeOverflow);
    assert_eq!(
        request()
            .with_audiences(Vec::<String>::new())
            .mint(&key)
            .unwrap_err(),
        MintError::EmptyField("audience")
    );
    let mut req = request();
    req.namespace.clear();
    assert_eq!(
        req.mint(&key).unwrap_err(),
        MintError::EmptyField("namespace")
    );
}

#[test]
fn jti_is_uuid_v4_from_injected_randomness() {
    let a = request().claims().unwrap().jti;
    let mut req = request();
    req.jti_random = [0u8; 16];
    assert_eq!(
        req.claims().unwrap().jti,
        "00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(a, "42424242-4242-4242-8242-424242424242");
}

#[test]
fn discovery_document_golden() {
    let doc = discovery_document(
        ISSUER,
        &default_jwks_uri(ISSUER),
        &[Algorithm::Rs256, Algorithm::Es256, Algorithm::Rs256],
    );
    assert_eq!(
        doc,
        concat!(
            r#"{"issuer":"http://127.0.0.1:4599/clusters/demo","#,
            r#""jwks_uri":"http://127.0.0.1:4599/clusters/demo/openid/v1/jwks","#,
            r#""response_types_supported":["id_token"],"subject_types_supported":["public"],"#,
            r#""id_token_signing_alg_values_supported":["ES256","RS256"]}"#
        )
    );
    assert_eq!(
        discovery_url(&format!("{ISSUER}/")),
        "http://127.0.0.1:4599/clusters/demo/.well-known/openid-configuration"
    );
    assert_eq!(CACHE_CONTROL, "public, max-age=3600");
    assert_eq!(JWKS_CONTENT_TYPE, "application/jwk-set+json");
    assert_eq!(DISCOVERY_CONTENT_TYPE, "application/json");
    assert_eq!(DISCOVERY_PATH, "/.well-known/openid-configuration");
    assert_eq!(JWKS_PATH, "/openid/v1/jwks");
}

#[test]
fn jwks_document_shape_and_parse_back() {
    let (r, e) = (rsa(), ec());
    let doc = jwks_document([r.jwk(), e.jwk()]);
    assert!(doc.starts_with(&format!(
        r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"{}","alg":"RS256","n":""#,
        r.kid()
    )));
    assert!(doc.contains(r#","e":"AQAB"},{"use":"sig","kty":"EC","kid":""#));
    let set = JwkSet::from_json(doc.as_bytes()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.skipped(), 0);
    assert_eq!(set.keys()[0].key_type(), KeyType::Rsa { bits: 2048 });
    assert_eq!(set.keys()[1].key_type(), KeyType::Ec(Curve::P256));
    assert!(set.contains_kid(e.kid()));
    let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let back: PublicJwk = serde_json::from_value(parsed["keys"][1].clone()).unwrap();
    assert_eq!(&back, e.jwk());
}

#[test]
fn object_uids() {
    let a = object_uid(b"cluster-seed", "ServiceAccount", "default", "app");
    assert_eq!(a.len(), 36);
    assert_eq!(
        a,
        object_uid(b"cluster-seed", "ServiceAccount", "default", "app")
    );
    assert_ne!(a, object_uid(b"cluster-seed", "Pod", "default", "app"));
}

#[test]
fn debug_output_does_not_leak_the_token() {
    let token = mint(&rsa());
    let tok = UnverifiedToken::parse(&token).unwrap();
    let dbg = format!("{tok:?}");
    assert!(dbg.contains("system:serviceaccount:default:app"));
    for seg in token.split('.') {
        assert!(!dbg.contains(seg), "{dbg}");
    }
    assert!(!format!("{:?}", rsa()).contains("pkcs8"));
}

use podiam_oidc::*;
use proptest::prelude::*;

use crate::common::*;

fn exercise(s: &str) {
    if let Ok(tok) = UnverifiedToken::parse(s) {
        let _ = tok.verify_signature(&JwkSet::default());
        let _ = tok.check_time(0, 0);
        let _ = tok.check_time(i64::MAX, i64::MAX);
        let _ = tok.check_time(i64::MIN, -1);
        let _ = tok.check_max_age(i64::MIN, i64::MAX);
        let _ = tok.check_audience(&["a"]);
        let _ = (
            tok.issuer(),
            tok.subject(),
            tok.audiences(),
            tok.kid(),
            tok.algorithm(),
        );
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_string()),
                    Just("kid".to_string()),
                    Just("exp".to_string()),
                    Just("aud".to_string()),
                    Just("iss".to_string()),
                    Just("crit".to_string()),
                    "[a-z]{1,4}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn parse_never_panics_on_jwt_alphabet(s in "[A-Za-z0-9_=+/ .\\-\n]{0,400}") {
        exercise(&s);
    }

    #[test]
    fn parse_never_panics_on_structured_segments(
        h in json_value(), c in json_value(), sig in prop::collection::vec(any::<u8>(), 0..80),
        raw_h in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        exercise(&craft_raw(&h.to_string(), &c.to_string(), &sig));
        exercise(&format!("{}.{}.{}", b64(&raw_h), b64(c.to_string()), b64(&sig)));
    }

    #[test]
    fn jwks_parse_never_panics(doc in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = JwkSet::from_json(serde_json::json!({"keys": [doc.clone()]}).to_string().as_bytes());
        let _ = JwkSet::from_json(doc.to_string().as_bytes());
        let _ = JwkSet::from_json(&bytes);
    }

    #[test]
    fn any_single_byte_change_breaks_the_signature(pos in 0usize..10_000, bit in 0u8..8) {
        let key = ec();
        let token = mint(&key);
        let (input, _) = token.rsplit_once('.').unwrap();
        let mut bytes = token.clone().into_bytes();
        let pos = pos % input.len();
        bytes[pos] ^= 1 << bit;
        if let Ok(s) = String::from_utf8(bytes)
            && s != token
            && let Ok(tok) = UnverifiedToken::parse(&s)
        {
            prop_assert!(tok.verify_signature(&set_of(&[&key])).is_err());
        }
    }
}

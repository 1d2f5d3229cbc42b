//! The entry as found in the file: everything optional, lenient types.
//!
//! Strings borrow from the entry's bytes (serde_json hands out a borrowed
//! `&str` when a string has no escape), so reading an entry allocates
//! little beyond its header lists; what the model does not use (cookies,
//! query lists, cache, `_initiator`...) is skipped by serde without being
//! built.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{MAX_REQUEST_BODY_TEXT, MAX_RESPONSE_BODY_KEPT};

#[derive(Deserialize)]
pub(super) struct RawEntry<'a> {
    #[serde(rename = "startedDateTime", default, borrow)]
    pub started: Text<'a>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub time: Option<f64>,
    #[serde(default, borrow)]
    pub request: Option<RawRequest<'a>>,
    #[serde(default, borrow)]
    pub response: Option<RawResponse<'a>>,
    #[serde(default)]
    pub timings: Option<RawTimings>,
    #[serde(rename = "_resourceType", default, borrow)]
    pub resource_type: Text<'a>,
    #[serde(rename = "_webSocketMessages", default)]
    pub websocket_messages: Option<IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct RawRequest<'a> {
    #[serde(default, borrow)]
    pub method: Text<'a>,
    #[serde(default, borrow)]
    pub url: Text<'a>,
    #[serde(default, borrow)]
    pub headers: Option<Vec<RawNameValue<'a>>>,
    #[serde(rename = "postData", default, borrow)]
    pub post_data: Option<RawPostData<'a>>,
    #[serde(rename = "bodySize", default, deserialize_with = "lenient_f64")]
    pub body_size: Option<f64>,
}

#[derive(Deserialize)]
pub(super) struct RawNameValue<'a> {
    #[serde(default, borrow)]
    pub name: Text<'a>,
    #[serde(default, borrow)]
    pub value: Text<'a>,
}

#[derive(Deserialize)]
pub(super) struct RawPostData<'a> {
    #[serde(rename = "mimeType", default, borrow)]
    pub mime: Text<'a>,
    #[serde(default, borrow)]
    pub text: Option<CappedText<'a, MAX_REQUEST_BODY_TEXT>>,
    #[serde(default, borrow)]
    pub params: Option<Vec<RawNameValue<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct RawResponse<'a> {
    #[serde(default, deserialize_with = "lenient_f64")]
    pub status: Option<f64>,
    #[serde(default, borrow)]
    pub headers: Option<Vec<RawNameValue<'a>>>,
    #[serde(default, borrow)]
    pub content: Option<RawContent<'a>>,
    #[serde(rename = "bodySize", default, deserialize_with = "lenient_f64")]
    pub body_size: Option<f64>,
}

#[derive(Deserialize)]
pub(super) struct RawContent<'a> {
    #[serde(default, deserialize_with = "lenient_f64")]
    pub size: Option<f64>,
    #[serde(rename = "mimeType", default, borrow)]
    pub mime: Text<'a>,
    #[serde(default, borrow)]
    pub text: Option<CappedText<'a, MAX_RESPONSE_BODY_KEPT>>,
    #[serde(default, borrow)]
    pub encoding: Text<'a>,
}

#[derive(Deserialize, Default)]
pub(super) struct RawTimings {
    #[serde(default, deserialize_with = "lenient_f64")]
    pub send: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub wait: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub receive: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub blocked: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub dns: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub connect: Option<f64>,
}

/// A string kept only when it is at most `CAP` bytes long; longer ones are
/// skipped (their length is still known).
pub(super) struct CappedText<'a, const CAP: usize> {
    pub text: Option<Cow<'a, str>>,
    pub len: usize,
}

impl<'de: 'a, 'a, const CAP: usize> Deserialize<'de> for CappedText<'a, CAP> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, const CAP: usize>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a, const CAP: usize> Visitor<'de> for V<'a, CAP> {
            type Value = CappedText<'a, CAP>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(CappedText {
                    text: (s.len() <= CAP).then_some(Cow::Borrowed(s)),
                    len: s.len(),
                })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(CappedText {
                    text: (s.len() <= CAP).then(|| Cow::Owned(s.to_string())),
                    len: s.len(),
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(CappedText { text: None, len: 0 })
            }
        }
        d.deserialize_any(V::<CAP>(PhantomData))
    }
}

/// A string field that accepts a string, a number (written as its text),
/// or null (`None`, as is a missing field). Borrowed when the string has
/// no escape.
#[derive(Default)]
pub(super) struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData)).map(Text)
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Option<Cow<'a, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(s.to_string())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(s)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    // Some exporters put JSON values where HAR says string (e.g.
    // chrome-har's postData.params values): keep them as JSON text.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Some(Cow::Owned(v.to_string())))
    }
}

/// Accepts a number, a numeric string, or null. Non-finite values are `None`.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.is_finite().then_some(v))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

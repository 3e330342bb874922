//! An op's function name (see [`OpF`]).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// An op's function (`read`, `txn`, `start-partition`, ...). The runner's ops name a
/// workload's or the nemesis's static names, held without a copy (an op per invocation and
/// per completion would otherwise allocate its name); a history read back owns its names.
/// Reads as a `str`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpF(Cow<'static, str>);

impl OpF {
    pub const fn new(f: &'static str) -> OpF {
        OpF(Cow::Borrowed(f))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for OpF {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for OpF {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for OpF {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// An owned copy (a name that is not `'static`); the runner's names take [`OpF::new`].
impl From<&str> for OpF {
    fn from(f: &str) -> OpF {
        OpF(Cow::Owned(f.to_owned()))
    }
}

impl From<String> for OpF {
    fn from(f: String) -> OpF {
        OpF(Cow::Owned(f))
    }
}

impl From<OpF> for String {
    fn from(f: OpF) -> String {
        f.0.into_owned()
    }
}

impl PartialEq<str> for OpF {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for OpF {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for OpF {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<OpF> for str {
    fn eq(&self, other: &OpF) -> bool {
        *self == *other.0
    }
}

impl PartialEq<OpF> for &str {
    fn eq(&self, other: &OpF) -> bool {
        **self == *other.0
    }
}

impl std::fmt::Debug for OpF {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for OpF {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for OpF {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OpF {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OpF, D::Error> {
        String::deserialize(d).map(OpF::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Borrowed or owned, a name reads, compares, orders and serializes as its text.
    #[test]
    fn names_are_their_text() {
        let names = ["read", "txn", "", "start-partition", "ü\"\n"];
        for a in names {
            for b in names {
                let (x, y) = (OpF::new(a), OpF::from(b));
                assert_eq!(x == y, a == b);
                assert_eq!(x.cmp(&y), a.cmp(b));
                assert_eq!(x == b, a == b);
                assert_eq!(b == x, a == b);
            }
            let f = OpF::new(a);
            assert_eq!(f.as_str(), a);
            assert_eq!(f.to_string(), a);
            assert_eq!(format!("{f:?}"), format!("{a:?}"));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, serde_json::to_string(a).unwrap());
            assert_eq!(serde_json::from_str::<OpF>(&json).unwrap(), f);
            assert_eq!(String::from(f.clone()), a);
        }
    }
}

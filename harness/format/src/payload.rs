//! The plaintext of a v1 blob: `backproof.v1.BackupPayload` (proto/backproof/v1/backup.proto).
//!
//! The prost types are written by hand rather than generated, so that building this crate
//! needs neither protoc nor a build script; `tests::structs_match_the_proto_file` compiles
//! the .proto with protox and checks both descriptions agree on every field.

use std::collections::BTreeMap;

use prost::Message;
use zeroize::Zeroize;

use crate::Error;

#[derive(Clone, PartialEq, Message)]
pub struct BackupPayload {
    #[prost(uint32, tag = "1")]
    pub schema: u32,
    #[prost(message, optional, tag = "2")]
    pub identity: Option<IdentityKeyPair>,
    #[prost(message, repeated, tag = "3")]
    pub contacts: Vec<Contact>,
    #[prost(message, optional, tag = "4")]
    pub profile: Option<ProfileReference>,
}

#[derive(Clone, PartialEq, Message)]
pub struct IdentityKeyPair {
    #[prost(bytes = "vec", tag = "1")]
    pub public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub private_key: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Message)]
pub struct Contact {
    #[prost(string, tag = "1")]
    pub uuid: String,
    #[prost(string, tag = "2")]
    pub username: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ProfileReference {
    #[prost(string, tag = "1")]
    pub attachment_id: String,
    #[prost(bytes = "vec", tag = "2")]
    pub decryption_key: Vec<u8>,
}

// The private identity key and the profile's decryption key are wiped from memory when a
// payload is dropped (docs/CLIENT.md, "Secrets in memory"); prost cannot hold them in
// `Zeroizing` buffers, so the structs wipe their own fields.
impl Drop for IdentityKeyPair {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

impl Drop for ProfileReference {
    fn drop(&mut self) {
        self.decryption_key.zeroize();
    }
}

pub fn encode(p: &BackupPayload) -> Vec<u8> {
    p.encode_to_vec()
}

/// Open step 8: bytes that are not a `BackupPayload` are `payload_invalid`.
pub fn decode(b: &[u8]) -> Result<BackupPayload, Error> {
    BackupPayload::decode(b).map_err(|e| Error::PayloadInvalid(e.to_string()))
}

/// Merge after a conflict: `merging` is this device's payload, `stored` the one that won
/// the race on the server.
///
/// Contacts are united by uuid, the merging side winning on the same uuid, and come out
/// sorted by uuid so that both devices compute the same bytes. A differing identity is
/// not mergeable; an identity present on one side only is taken. The profile of the
/// merging side wins when it has one. The schema never goes down.
pub fn merge(merging: &BackupPayload, stored: &BackupPayload) -> Result<BackupPayload, Error> {
    let identity = match (&merging.identity, &stored.identity) {
        (Some(a), Some(b)) if a != b => return Err(Error::IdentityMismatch),
        (Some(a), _) => Some(a.clone()),
        (None, b) => b.clone(),
    };
    let mut contacts = BTreeMap::new();
    for c in stored.contacts.iter().chain(&merging.contacts) {
        contacts.insert(c.uuid.clone(), c.clone());
    }
    Ok(BackupPayload {
        schema: merging.schema.max(stored.schema),
        identity,
        contacts: contacts.into_values().collect(),
        profile: merging.profile.clone().or_else(|| stored.profile.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;

    fn contact(uuid: &str, name: &str) -> Contact {
        Contact {
            uuid: uuid.to_owned(),
            username: name.to_owned(),
        }
    }

    fn identity(b: u8) -> IdentityKeyPair {
        IdentityKeyPair {
            public_key: vec![b; 32],
            private_key: vec![b ^ 0xff; 32],
        }
    }

    #[test]
    fn merge_unites_contacts_and_merging_side_wins() {
        let stored = BackupPayload {
            schema: 1,
            identity: Some(identity(1)),
            contacts: vec![contact("c", "carol"), contact("a", "alice-old")],
            profile: Some(ProfileReference {
                attachment_id: "stored".into(),
                decryption_key: vec![1],
            }),
        };
        let merging = BackupPayload {
            schema: 1,
            identity: None,
            contacts: vec![contact("b", "bob"), contact("a", "alice-new")],
            profile: None,
        };
        let merged = merge(&merging, &stored).unwrap();
        assert_eq!(
            merged.contacts,
            vec![
                contact("a", "alice-new"),
                contact("b", "bob"),
                contact("c", "carol")
            ]
        );
        assert_eq!(merged.identity, Some(identity(1)));
        assert_eq!(
            merged.profile.as_ref().map(|p| p.attachment_id.as_str()),
            Some("stored")
        );

        let with_profile = BackupPayload {
            profile: Some(ProfileReference {
                attachment_id: "mine".into(),
                decryption_key: vec![],
            }),
            ..merging.clone()
        };
        let merged = merge(&with_profile, &stored).unwrap();
        assert_eq!(merged.profile.unwrap().attachment_id, "mine");
        // Either order of the same inputs gives the same contact order.
        let reverse = merge(&stored, &merging).unwrap();
        let uuids: Vec<_> = reverse.contacts.iter().map(|c| c.uuid.as_str()).collect();
        assert_eq!(uuids, ["a", "b", "c"]);
        assert_eq!(reverse.contacts[0].username, "alice-old");
    }

    #[test]
    fn merge_refuses_a_different_identity() {
        let a = BackupPayload {
            identity: Some(identity(1)),
            ..Default::default()
        };
        let b = BackupPayload {
            identity: Some(identity(2)),
            ..Default::default()
        };
        assert_eq!(
            merge(&a, &b).unwrap_err().class(),
            ErrorClass::IdentityMismatch
        );
        assert!(merge(&a, &a).is_ok());
    }

    #[test]
    fn decode_rejects_garbage_with_payload_invalid() {
        for bad in [
            &[0xffu8, 0xff, 0xff][..],
            &[0x0a, 0x05, 0x01][..],
            &[0x1a, 0x02, 0x0a, 0x80][..],
        ] {
            assert_eq!(
                decode(bad).unwrap_err().class(),
                ErrorClass::PayloadInvalid,
                "{bad:?}"
            );
        }
        assert_eq!(decode(&[]).unwrap(), BackupPayload::default());
    }

    #[test]
    fn structs_match_the_proto_file() {
        use prost_reflect::{DynamicMessage, Kind, Value};

        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
        let pool = protox::Compiler::new([dir])
            .unwrap()
            .open_file("backproof/v1/backup.proto")
            .unwrap()
            .descriptor_pool();
        let expect = [
            (
                "BackupPayload",
                vec![
                    ("schema", 1),
                    ("identity", 2),
                    ("contacts", 3),
                    ("profile", 4),
                ],
            ),
            (
                "IdentityKeyPair",
                vec![("public_key", 1), ("private_key", 2)],
            ),
            ("Contact", vec![("uuid", 1), ("username", 2)]),
            (
                "ProfileReference",
                vec![("attachment_id", 1), ("decryption_key", 2)],
            ),
        ];
        for (name, fields) in &expect {
            let desc = pool
                .get_message_by_name(&format!("backproof.v1.{name}"))
                .unwrap();
            let got: Vec<_> = desc
                .fields()
                .map(|f| (f.name().to_owned(), f.number()))
                .collect();
            let want: Vec<_> = fields.iter().map(|(n, t)| (n.to_string(), *t)).collect();
            assert_eq!(got, want, "{name}");
        }

        // Fill every field through the .proto's descriptors, decode with our structs, and
        // back: any disagreement in number, wire type or label changes the bytes.
        let msg_desc = pool
            .get_message_by_name("backproof.v1.BackupPayload")
            .unwrap();
        let mut dynamic = DynamicMessage::new(msg_desc.clone());
        dynamic.set_field_by_name("schema", Value::U32(7));
        let sub = |field: &str, values: &[(&str, Value)]| {
            let Kind::Message(d) = msg_desc.get_field_by_name(field).unwrap().kind() else {
                panic!("{field} is not a message field")
            };
            let mut m = DynamicMessage::new(d);
            for (n, v) in values {
                m.set_field_by_name(n, v.clone());
            }
            Value::Message(m)
        };
        dynamic.set_field_by_name(
            "identity",
            sub(
                "identity",
                &[
                    ("public_key", Value::Bytes(vec![1, 2].into())),
                    ("private_key", Value::Bytes(vec![3].into())),
                ],
            ),
        );
        let c1 = sub(
            "contacts",
            &[
                ("uuid", Value::String("u1".into())),
                ("username", Value::String("ann".into())),
            ],
        );
        let c2 = sub("contacts", &[("uuid", Value::String("u2".into()))]);
        dynamic.set_field_by_name("contacts", Value::List(vec![c1, c2]));
        dynamic.set_field_by_name(
            "profile",
            sub(
                "profile",
                &[
                    ("attachment_id", Value::String("att".into())),
                    ("decryption_key", Value::Bytes(vec![9; 4].into())),
                ],
            ),
        );
        let bytes = dynamic.encode_to_vec();
        let ours = decode(&bytes).unwrap();
        assert_eq!(
            ours,
            BackupPayload {
                schema: 7,
                identity: Some(IdentityKeyPair {
                    public_key: vec![1, 2],
                    private_key: vec![3]
                }),
                contacts: vec![contact("u1", "ann"), contact("u2", "")],
                profile: Some(ProfileReference {
                    attachment_id: "att".into(),
                    decryption_key: vec![9; 4]
                }),
            }
        );
        assert_eq!(encode(&ours), bytes);
        let back = DynamicMessage::decode(msg_desc, encode(&ours).as_slice()).unwrap();
        assert_eq!(back, dynamic);
    }
}

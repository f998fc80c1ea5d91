//! go-micro's mDNS TXT payload (spec §6.2): the node's service name, version, endpoints
//! and metadata as JSON with capitalised keys, zlib-compressed, in lowercase hex, split
//! into TXT strings of at most 255 characters. Go reads the keys in any case; so do we.

use crate::registry::record::{EndpointRecord, Metadata};
use anyhow::{anyhow, Context};
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{Read, Write};

/// A DNS character string holds at most 255 bytes.
const MAX_STRING: usize = 255;
/// A payload that inflates past this is refused rather than held in memory.
const MAX_INFLATED: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Payload {
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Endpoints")]
    pub endpoints: Vec<EndpointRecord>,
    #[serde(rename = "Metadata")]
    pub metadata: Metadata,
}

impl Payload {
    /// The TXT strings, in order.
    pub fn encode(&self) -> Vec<String> {
        let json = serde_json::to_vec(self).expect("a payload serialises");
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&json).expect("writing to memory");
        let hex = hex::encode(encoder.finish().expect("writing to memory"));
        hex.as_bytes()
            .chunks(MAX_STRING)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect()
    }

    /// From the TXT strings joined in order.
    pub fn decode(joined: &str) -> anyhow::Result<Payload> {
        let compressed = hex::decode(joined.trim()).context("TXT is not hex")?;
        let mut json = Vec::new();
        ZlibDecoder::new(compressed.as_slice())
            .take(MAX_INFLATED)
            .read_to_end(&mut json)
            .context("TXT is not zlib data")?;
        let object: Map<String, Value> =
            serde_json::from_slice(&json).context("TXT does not hold a JSON object")?;
        let field = |name: &str| {
            object
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_null())
        };
        Ok(Payload {
            service: field("service")
                .and_then(|value| value.as_str().map(str::to_owned))
                .ok_or_else(|| anyhow!("TXT names no Service"))?,
            version: field("version")
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default(),
            endpoints: field("endpoints")
                .map(serde_json::from_value)
                .transpose()
                .context("TXT Endpoints")?
                .unwrap_or_default(),
            metadata: field("metadata")
                .map(serde_json::from_value)
                .transpose()
                .context("TXT Metadata")?
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §10.7: the TXT strings of the `helloworld` node, as go-micro sends them.
    const GO_MICRO_TXT: [&str; 2] = [
        "789c8d90b14ec4300c86dfc5f38907e88a9058580e89053184d62a11ae1d6cf7d0a9eabb9f5385722716a6249fbe3fbf93059ed0d3903c41b7c0bbca272a74f0e15ee00045c5a5170a32cd7d258a6336d77325035b10433d6d9966b826b622ea3fd7ac07780e27f7580912c9b7280da1bea05a160e4cc9d13cd0030f4532bb4",
        "1f7ba44dbd75c798cc669aaf96323d1732eb7e09428765baec9dbb29b3176e6f14ae499687d5beba3626036bce969e8aa68277f9b261bff5334fdfe759c5af671ff92bbfb4404615e00bec48a5c",
    ];

    #[test]
    fn reads_the_txt_go_micro_sends() {
        let payload = Payload::decode(&GO_MICRO_TXT.concat()).unwrap();
        assert_eq!(payload.service, "helloworld");
        assert_eq!(payload.version, "latest");
        assert_eq!(payload.endpoints[0].name, "Helloworld.Call");
        assert_eq!(payload.endpoints[0].request["values"][0]["name"], "name");
        assert_eq!(payload.metadata["registry"], "mdns");
        assert_eq!(payload.metadata["protocol"], "mucp");
    }

    #[test]
    fn writes_what_it_reads_in_strings_of_at_most_255_lowercase_hex_characters() {
        let original = Payload::decode(&GO_MICRO_TXT.concat()).unwrap();
        let strings = original.encode();
        assert!(strings.len() >= 2);
        assert!(strings.iter().all(|string| string.len() <= 255));
        assert!(strings[..strings.len() - 1].iter().all(|s| s.len() == 255));
        assert!(strings
            .concat()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(Payload::decode(&strings.concat()).unwrap(), original);
        // The JSON inside has go-micro's capitalised keys.
        let json = serde_json::to_value(&original).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Service", "Version", "Endpoints", "Metadata"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in ["", "zz", "00ff", &hex::encode(b"not zlib at all")] {
            assert!(Payload::decode(garbage).is_err(), "{garbage:?}");
        }
    }
}

//! The server's decode budget: how much memory decoded requests may hold at once, all
//! connections together.
//!
//! A request decoded to a `DynamicMessage` can take far more memory than its bytes: every
//! element of a repeated field is a 56-byte `prost_reflect::Value`, so a 4 MiB packed
//! field of one-byte numbers decodes to 235 MB. [`estimate`] walks the request's bytes
//! (without decoding them) and reckons what decoding will take; a request whose estimate
//! is near its own size costs nothing (its bytes are bounded where they are read), any
//! other holds its estimate from this budget for as long as the decoded message lives.
//! One that needs more than the whole budget is refused; others wait for their share.

use super::Codec;
use prost::encoding::{decode_varint, WireType};
use prost_reflect::{Cardinality, Kind, MessageDescriptor};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One element of a repeated field, a field's value, an entry of a map: a `Value`.
const VALUE: usize = std::mem::size_of::<prost_reflect::Value>();
/// A field's slot in its message (the field set's entry beside its value).
const FIELD: usize = 64;
/// A decoded message's own size, and the field set it allocates.
const MESSAGE: usize = std::mem::size_of::<prost_reflect::DynamicMessage>() + 64;
/// A map entry: the key beside the value, and the hash table's slack.
const MAP_ENTRY: usize = 2 * VALUE + 32;
/// A JSON value read into a `serde_json::Value` on the way (JSON-RPC's params) and then
/// into a `prost_reflect::Value`.
const JSON_VALUE: usize = std::mem::size_of::<serde_json::Value>() + VALUE;
/// Messages are protobuf-decoded at most this deep (prost's own recursion limit).
const DEPTH: usize = 100;

/// Requests whose estimate is at most twice their size plus this cost nothing.
const FREE: usize = 16 * 1024;

/// Budget is counted in KiB, so that a budget of many GiB fits the semaphore's counts.
const UNIT: usize = 1024;

/// The memory decoded requests may hold at once.
#[derive(Clone, Debug)]
pub struct Budget {
    permits: Arc<Semaphore>,
    size: usize,
}

/// Why a request was not given its share.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It needs more than the whole budget: `needed` bytes.
    TooLarge { needed: usize, budget: usize },
    /// The budget stayed in use until the caller's deadline.
    Busy { needed: usize, budget: usize },
}

impl Budget {
    pub fn new(size: usize) -> Budget {
        let units = size.div_ceil(UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            permits: Arc::new(Semaphore::new(units)),
            size,
        }
    }

    /// The budget's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Takes what decoding `body` will need: nothing for a body that decodes to about its
    /// own size, otherwise its estimate, waiting for it until `deadline`. The permit is
    /// the decoded message's hold on the budget, given back when dropped.
    pub async fn lease(
        &self,
        codec: Codec,
        desc: &MessageDescriptor,
        body: &[u8],
        deadline: Option<std::time::Instant>,
    ) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        match cost(codec, desc, body) {
            None => Ok(None),
            Some(needed) => self.take(needed, deadline).await.map(Some),
        }
    }

    /// As [`Budget::lease`], but without waiting: the share is there now, or the request
    /// is refused as if its deadline had passed.
    pub fn try_lease(
        &self,
        codec: Codec,
        desc: &MessageDescriptor,
        body: &[u8],
    ) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let Some(needed) = cost(codec, desc, body) else {
            return Ok(None);
        };
        let units = needed.div_ceil(UNIT);
        let budget = self.size;
        if needed > budget || units > u32::MAX as usize {
            return Err(Refusal::TooLarge { needed, budget });
        }
        self.permits
            .clone()
            .try_acquire_many_owned(units as u32)
            .map(Some)
            .map_err(|_| Refusal::Busy { needed, budget })
    }

    /// Takes `needed` bytes of the budget, waiting for them until `deadline`.
    pub async fn take(
        &self,
        needed: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<OwnedSemaphorePermit, Refusal> {
        self.take_units(needed.div_ceil(UNIT), needed, deadline)
            .await
    }

    /// Leases for several bodies decoded together (one HTTP/1.1 request carrying a
    /// whole client stream), taken at once: a request never holds part of the budget
    /// while it waits for the rest.
    pub async fn lease_all<B: AsRef<[u8]>>(
        &self,
        codec: Codec,
        desc: &MessageDescriptor,
        bodies: &[B],
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Option<OwnedSemaphorePermit>>, Refusal> {
        let units: Vec<usize> = bodies
            .iter()
            .map(|body| cost(codec, desc, body.as_ref()).map_or(0, |cost| cost.div_ceil(UNIT)))
            .collect();
        let total: usize = units.iter().sum();
        if total == 0 {
            return Ok(units.iter().map(|_| None).collect());
        }
        let mut permit = self
            .take_units(total, total.saturating_mul(UNIT), deadline)
            .await?;
        Ok(units
            .iter()
            .map(|&units| match units {
                0 => None,
                units => permit.split(units),
            })
            .collect())
    }

    async fn take_units(
        &self,
        units: usize,
        needed: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<OwnedSemaphorePermit, Refusal> {
        let budget = self.size;
        if needed > budget || units > u32::MAX as usize {
            return Err(Refusal::TooLarge { needed, budget });
        }
        let acquiring = self.permits.clone().acquire_many_owned(units as u32);
        let permit = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), acquiring)
                .await
                .map_err(|_| Refusal::Busy { needed, budget })?,
            None => acquiring.await,
        };
        // The semaphore is never closed.
        permit.map_err(|_| Refusal::Busy { needed, budget })
    }
}

/// What decoding `body` takes from the budget: `None` when it decodes to about its own
/// size (its bytes are bounded where they are read), else its estimate.
pub fn cost(codec: Codec, desc: &MessageDescriptor, body: &[u8]) -> Option<usize> {
    let needed = estimate(codec, desc, body);
    (needed > 2 * body.len() + FREE).then_some(needed)
}

/// About how much memory decoding `body` as a `desc` takes (an upper bound for protobuf
/// up to the allocator's rounding; for JSON, a bound by its count of values).
pub fn estimate(codec: Codec, desc: &MessageDescriptor, body: &[u8]) -> usize {
    match codec {
        Codec::Protobuf => MESSAGE + protobuf(desc, body, 0),
        Codec::Json => json(body),
    }
}

/// Every value in JSON text is followed or preceded by one of these (or is the only one).
fn json(body: &[u8]) -> usize {
    let values = 1 + body
        .iter()
        .filter(|byte| matches!(byte, b',' | b'[' | b'{' | b':'))
        .count();
    body.len() + values * JSON_VALUE
}

/// The memory a message's fields take once decoded. Bytes that do not parse are counted
/// as if each were an element of a repeated field: decoding fails on them anyway, and
/// the estimate stays an upper bound.
fn protobuf(desc: &MessageDescriptor, mut body: &[u8], depth: usize) -> usize {
    let worst = |rest: &[u8]| rest.len() * (VALUE + FIELD);
    let mut total = 0;
    while !body.is_empty() {
        let before = body;
        let Ok(key) = decode_varint(&mut body) else {
            return total + worst(before);
        };
        let (number, wire_type) = (key >> 3, key & 7);
        let field = u32::try_from(number)
            .ok()
            .and_then(|number| desc.get_field(number));
        let slot = match &field {
            Some(field) if field.cardinality() == Cardinality::Repeated => 0,
            _ => FIELD,
        };
        let Ok(wire_type) = WireType::try_from(wire_type) else {
            return total + worst(before);
        };
        let skipped = match wire_type {
            WireType::Varint => decode_varint(&mut body).map(|_| 0).is_ok(),
            WireType::SixtyFourBit => skip(&mut body, 8),
            WireType::ThirtyTwoBit => skip(&mut body, 4),
            WireType::LengthDelimited => {
                let Some(payload) = length_delimited(&mut body) else {
                    return total + worst(before);
                };
                total += match field.as_ref().map(|field| (field.kind(), field.is_map())) {
                    // Unknown fields are kept as bytes.
                    None => payload.len(),
                    Some((Kind::String | Kind::Bytes, _)) => payload.len(),
                    Some((Kind::Message(entry), true)) => {
                        MAP_ENTRY + nested(&entry, payload, depth, worst)
                    }
                    Some((Kind::Message(inner), false)) => nested(&inner, payload, depth, worst),
                    Some((kind, _)) => packed(kind, payload),
                };
                true
            }
            // Groups: rare, and decoded field by field as they come.
            WireType::StartGroup | WireType::EndGroup => true,
        };
        if !skipped {
            return total + worst(before);
        }
        total += VALUE + slot;
    }
    total
}

fn nested(
    desc: &MessageDescriptor,
    payload: &[u8],
    depth: usize,
    worst: impl Fn(&[u8]) -> usize,
) -> usize {
    if depth >= DEPTH {
        return worst(payload);
    }
    MESSAGE + protobuf(desc, payload, depth + 1)
}

/// The elements of a packed repeated field, one `Value` each.
fn packed(kind: Kind, payload: &[u8]) -> usize {
    let elements = match kind {
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => payload.len() / 4,
        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => payload.len() / 8,
        // Varints: one per byte without the continuation bit.
        _ => payload.iter().filter(|byte| **byte < 0x80).count(),
    };
    elements * VALUE
}

fn skip(body: &mut &[u8], n: usize) -> bool {
    match body.get(n..) {
        Some(rest) => {
            *body = rest;
            true
        }
        None => false,
    }
}

fn length_delimited<'a>(body: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(decode_varint(body).ok()?).ok()?;
    let payload = body.get(..len)?;
    *body = &body[len..];
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn desc() -> MessageDescriptor {
        let source = r#"
            syntax = "proto3";
            package t;
            message M {
                repeated int32 values = 1;
                string name = 2;
                repeated M children = 3;
                map<string, int32> counts = 4;
                repeated fixed64 wide = 5;
            }
        "#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), source).unwrap();
        let set = protox::compile(["t.proto"], [dir.path()]).unwrap();
        DescriptorPool::from_file_descriptor_set(set)
            .unwrap()
            .get_message_by_name("t.M")
            .unwrap()
    }

    fn packed_ones(n: usize) -> Vec<u8> {
        let mut body = vec![0x0a];
        prost::encoding::encode_varint(n as u64, &mut body);
        body.resize(body.len() + n, 1);
        body
    }

    #[test]
    fn packed_numbers_count_one_value_each() {
        let n = 100_000;
        let estimate = estimate(Codec::Protobuf, &desc(), &packed_ones(n));
        assert!(estimate >= n * VALUE, "{estimate}");
        assert!(estimate < n * VALUE + 1024, "{estimate}");
        // Fixed-width elements are counted by their width.
        let mut wide = vec![0x2a];
        prost::encoding::encode_varint(8000, &mut wide);
        wide.resize(wide.len() + 8000, 0xff);
        let estimate = super::estimate(Codec::Protobuf, &desc(), &wide);
        assert!((1000 * VALUE..1000 * VALUE + 1024).contains(&estimate));
    }

    #[test]
    fn strings_cost_their_size() {
        let mut body = vec![0x12];
        prost::encoding::encode_varint(1 << 20, &mut body);
        body.resize(body.len() + (1 << 20), b'x');
        let estimate = estimate(Codec::Protobuf, &desc(), &body);
        assert!(estimate < body.len() + 1024, "{estimate}");
    }

    #[test]
    fn nested_messages_and_maps_are_counted() {
        // 1,000 empty children: two bytes each, a Value and a message each decoded.
        let body: Vec<u8> = std::iter::repeat_n([0x1a, 0x00], 1000).flatten().collect();
        assert!(estimate(Codec::Protobuf, &desc(), &body) >= 1000 * (VALUE + MESSAGE));
        // A map entry {"": 0}: an empty entry message.
        let body: Vec<u8> = std::iter::repeat_n([0x22, 0x00], 1000).flatten().collect();
        assert!(estimate(Codec::Protobuf, &desc(), &body) >= 1000 * (MAP_ENTRY + MESSAGE));
    }

    #[test]
    fn malformed_bytes_count_as_the_worst_case() {
        // A length past the end, a bad wire type, a truncated varint.
        for body in [
            &b"\x0a\xff\xff\x03abc"[..],
            b"\x0f\x01\x01",
            b"\x08\xff\xff",
        ] {
            let estimate = estimate(Codec::Protobuf, &desc(), body);
            assert!(estimate >= body.len() * VALUE, "{body:?}: {estimate}");
        }
        // Nesting past prost's limit.
        let mut body = Vec::new();
        for _ in 0..200 {
            let mut outer = vec![0x1a];
            prost::encoding::encode_varint(body.len() as u64, &mut outer);
            outer.extend_from_slice(&body);
            body = outer;
        }
        assert!(estimate(Codec::Protobuf, &desc(), &body) > 0);
    }

    #[test]
    fn json_counts_its_values() {
        let mut body = b"{\"values\":[".to_vec();
        body.extend(std::iter::repeat_n(*b"1,", 10_000).flatten());
        body.extend_from_slice(b"1]}");
        assert!(estimate(Codec::Json, &desc(), &body) >= 10_000 * VALUE);
        let text = format!("{{\"name\":\"{}\"}}", "x".repeat(1 << 20));
        assert!(estimate(Codec::Json, &desc(), text.as_bytes()) < 2 * text.len());
    }

    #[tokio::test]
    async fn leases_wait_for_each_other_and_a_request_over_the_budget_is_refused() {
        let desc = desc();
        let body = packed_ones(10_000); // about 560 KB decoded
        let budget = Budget::new(1 << 20);
        let first = budget
            .lease(Codec::Protobuf, &desc, &body, None)
            .await
            .unwrap();
        assert!(first.is_some());
        let soon = std::time::Instant::now() + std::time::Duration::from_millis(50);
        let second = budget
            .lease(Codec::Protobuf, &desc, &body, Some(soon))
            .await;
        assert!(matches!(second, Err(Refusal::Busy { .. })), "{second:?}");
        drop(first);
        assert!(budget
            .lease(Codec::Protobuf, &desc, &body, Some(soon))
            .await
            .unwrap()
            .is_some());
        let huge = budget
            .lease(Codec::Protobuf, &desc, &packed_ones(100_000), None)
            .await;
        assert!(matches!(huge, Err(Refusal::TooLarge { .. })), "{huge:?}");
        // A plain message costs nothing.
        let plain = budget
            .lease(Codec::Protobuf, &desc, b"\x12\x03abc", None)
            .await;
        assert!(plain.unwrap().is_none());
    }
}

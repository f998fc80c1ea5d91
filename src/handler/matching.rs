//! What a rule's `match` and `metadata` conditions test. A plain value matches by
//! equality (a nested message given as an object matches partially); an object with one
//! key starting with `$` is an operator: `$regex` (a search; anchor with `^…$`), `$glob`
//! (the whole text), `$contains` (a substring of a string, an element of a list), `$in`
//! (one of a list), `$exists` (true/false), `$gt` `$gte` `$lt` `$lte` (numbers by value,
//! strings in byte order, so RFC 3339 times compare as times), `$unordered` (a list with
//! these elements in any order). Everything is parsed and type-checked against the
//! request message at start-up.

use crate::codec;
use crate::message::Metadata;
use anyhow::{anyhow, bail, Context};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

/// A partial-request matcher: every test must hold.
#[derive(Default)]
pub struct Matcher {
    tests: Vec<(FieldDescriptor, FieldTest)>,
}

enum FieldTest {
    Nested(Matcher),
    Value(Test),
}

/// One test of a value: a request field's or a header's.
enum Test {
    Equal(Value),
    Regex(regex::Regex),
    Glob(glob::Pattern),
    Substring(String),
    Element(Value),
    In(Vec<Value>),
    Exists(bool),
    Compare(Ordering, bool, Value),
    Unordered(Vec<Value>),
}

impl Test {
    /// `actual` is the value (a field's default when unset); `present` whether it was
    /// given (a header sent, a field set).
    fn holds(&self, actual: Option<&Value>, present: bool) -> bool {
        let text = || actual.and_then(Value::as_str);
        match self {
            Test::Exists(wanted) => present == *wanted,
            _ if actual.is_none() => false,
            Test::Equal(expected) => actual == Some(expected),
            Test::Regex(regex) => text().is_some_and(|text| regex.is_match(text)),
            Test::Glob(pattern) => text().is_some_and(|text| pattern.matches(text)),
            Test::Substring(part) => text().is_some_and(|text| text.contains(part.as_str())),
            Test::Element(element) => actual
                .and_then(Value::as_list)
                .is_some_and(|items| items.contains(element)),
            Test::In(choices) => actual.is_some_and(|actual| choices.contains(actual)),
            Test::Compare(wanted, or_equal, bound) => actual
                .and_then(|actual| order(actual, bound))
                .is_some_and(|found| found == *wanted || (*or_equal && found == Ordering::Equal)),
            Test::Unordered(expected) => actual
                .and_then(Value::as_list)
                .is_some_and(|items| same_elements(items, expected)),
        }
    }
}

impl Matcher {
    pub fn matches(&self, message: &DynamicMessage) -> bool {
        self.tests.iter().all(|(field, test)| match test {
            FieldTest::Nested(nested) => match message.get_field(field).as_message() {
                Some(inner) => nested.matches(inner),
                None => false,
            },
            FieldTest::Value(test) => {
                test.holds(Some(&message.get_field(field)), message.has_field(field))
            }
        })
    }
}

/// The `metadata` conditions: header name (any case) and its test.
#[derive(Default)]
pub struct MetadataMatcher {
    tests: Vec<(String, Test)>,
}

impl MetadataMatcher {
    pub fn matches(&self, metadata: &Metadata) -> bool {
        self.tests.iter().all(|(name, test)| {
            let value = metadata
                .get(name)
                .map(|text| Value::String(text.to_owned()));
            test.holds(value.as_ref(), value.is_some())
        })
    }
}

/// Builds the matcher of a `match` object for requests of type `message`.
pub fn matcher(message: &MessageDescriptor, value: &Json) -> anyhow::Result<Matcher> {
    let Json::Object(fields) = value else {
        bail!("must be an object of request fields")
    };
    let mut built = Matcher::default();
    for (name, expected) in fields {
        let field = message
            .get_field_by_name(name)
            .or_else(|| message.get_field_by_json_name(name))
            .ok_or_else(|| anyhow!("{} has no field `{name}`", message.full_name()))?;
        let test = match (field.kind(), operator(expected)) {
            (_, Some((op, operand))) => FieldTest::Value(
                field_test(message, &field, op, operand)
                    .with_context(|| format!("field `{name}`"))?,
            ),
            (Kind::Message(nested), None)
                if expected.is_object()
                    && !field.is_map()
                    && !field.is_list()
                    && !nested.full_name().starts_with("google.protobuf.") =>
            {
                FieldTest::Nested(
                    matcher(&nested, expected).with_context(|| format!("field `{name}`"))?,
                )
            }
            _ => FieldTest::Value(Test::Equal(field_value(message, &field, expected)?)),
        };
        built.tests.push((field, test));
    }
    Ok(built)
}

/// Builds the `metadata` conditions: a string (equal), or an operator.
pub fn metadata_matcher(value: &Json) -> anyhow::Result<MetadataMatcher> {
    let Json::Object(headers) = value else {
        bail!("must be an object of header names and values")
    };
    let mut built = MetadataMatcher::default();
    for (name, expected) in headers {
        let test = match (expected, operator(expected)) {
            (Json::String(text), _) => Test::Equal(Value::String(text.clone())),
            (_, Some((op, operand))) => {
                text_test(op, operand).with_context(|| format!("header `{name}`"))?
            }
            _ => bail!(
                "header `{name}`: give a string, or an operator such as {{\"$regex\": \"^v2\"}}"
            ),
        };
        built.tests.push((name.clone(), test));
    }
    Ok(built)
}

/// `{"$op": operand}` (one key, starting with `$`).
fn operator(value: &Json) -> Option<(&str, &Json)> {
    match value.as_object() {
        Some(object) if object.len() == 1 => {
            let (key, operand) = object.iter().next()?;
            key.starts_with('$').then_some((key.as_str(), operand))
        }
        _ => None,
    }
}

const OPERATORS: &str = "$regex, $glob, $contains, $in, $exists, $gt, $gte, $lt, $lte, $unordered";

/// A test of a header (text), or of a string field.
fn text_test(op: &str, operand: &Json) -> anyhow::Result<Test> {
    let text = || {
        operand
            .as_str()
            .ok_or_else(|| anyhow!("{op} takes a string"))
    };
    let strings = || -> anyhow::Result<Vec<Value>> {
        operand
            .as_array()
            .ok_or_else(|| anyhow!("{op} takes a list"))?
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|text| Value::String(text.to_owned()))
                    .ok_or_else(|| anyhow!("{op} takes a list of strings"))
            })
            .collect()
    };
    Ok(match op {
        "$regex" => {
            Test::Regex(regex::Regex::new(text()?).map_err(|error| anyhow!("$regex: {error}"))?)
        }
        "$glob" => {
            Test::Glob(glob::Pattern::new(text()?).map_err(|error| anyhow!("$glob: {error}"))?)
        }
        "$contains" => Test::Substring(text()?.to_owned()),
        "$in" => Test::In(strings()?),
        "$exists" => exists(operand)?,
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let bound = match operand {
                Json::String(text) => Value::String(text.clone()),
                Json::Number(number) => Value::F64(number.as_f64().unwrap_or(f64::NAN)),
                _ => bail!("{op} takes a number or a string"),
            };
            compare(op, bound)
        }
        _ => bail!("unknown operator {op} (operators: {OPERATORS})"),
    })
}

fn exists(operand: &Json) -> anyhow::Result<Test> {
    operand
        .as_bool()
        .map(Test::Exists)
        .ok_or_else(|| anyhow!("$exists takes true or false"))
}

fn compare(op: &str, bound: Value) -> Test {
    match op {
        "$gt" => Test::Compare(Ordering::Greater, false, bound),
        "$gte" => Test::Compare(Ordering::Greater, true, bound),
        "$lt" => Test::Compare(Ordering::Less, false, bound),
        _ => Test::Compare(Ordering::Less, true, bound),
    }
}

/// A test of a request field, its operand checked against the field's type.
fn field_test(
    message: &MessageDescriptor,
    field: &FieldDescriptor,
    op: &str,
    operand: &Json,
) -> anyhow::Result<Test> {
    let is_text = matches!(field.kind(), Kind::String) && !field.is_list();
    let numeric = matches!(
        field.kind(),
        Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Uint64
            | Kind::Fixed64
            | Kind::Float
            | Kind::Double
    ) && !field.is_list();
    let kind = || {
        if field.is_list() {
            "a list".to_owned()
        } else {
            format!("{:?}", field.kind()).to_lowercase()
        }
    };
    Ok(match op {
        "$exists" => exists(operand)?,
        "$regex" | "$glob" if is_text => text_test(op, operand)?,
        "$regex" | "$glob" => bail!("{op} applies to string fields, and this one is {}", kind()),
        "$contains" if field.is_list() => Test::Element(element_value(message, field, operand)?),
        "$contains" if is_text => text_test(op, operand)?,
        "$contains" => bail!(
            "$contains applies to strings and lists, and this field is {}",
            kind()
        ),
        "$in" => Test::In(
            operand
                .as_array()
                .ok_or_else(|| anyhow!("$in takes a list"))?
                .iter()
                .map(|choice| field_value(message, field, choice))
                .collect::<anyhow::Result<_>>()?,
        ),
        "$gt" | "$gte" | "$lt" | "$lte" if numeric || is_text => {
            compare(op, field_value(message, field, operand)?)
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            bail!(
                "{op} applies to numbers and strings, and this field is {}",
                kind()
            )
        }
        "$unordered" if field.is_list() => match field_value(message, field, operand)? {
            Value::List(items) => Test::Unordered(items),
            _ => bail!("$unordered takes a list"),
        },
        "$unordered" => bail!("$unordered applies to lists, and this field is {}", kind()),
        _ => bail!("unknown operator {op} (operators: {OPERATORS})"),
    })
}

/// A JSON value as the field's value, as a request would carry it.
fn field_value(
    message: &MessageDescriptor,
    field: &FieldDescriptor,
    value: &Json,
) -> anyhow::Result<Value> {
    let mut single = Map::new();
    single.insert(field.name().to_owned(), value.clone());
    let parsed = codec::from_json_value(message, &Json::Object(single))
        .map_err(|error| anyhow!("{error}"))?;
    Ok(parsed.get_field(field).into_owned())
}

/// A JSON value as one element of a list field.
fn element_value(
    message: &MessageDescriptor,
    field: &FieldDescriptor,
    value: &Json,
) -> anyhow::Result<Value> {
    match field_value(message, field, &Json::Array(vec![value.clone()]))? {
        Value::List(mut items) if items.len() == 1 => Ok(items.remove(0)),
        _ => bail!("$contains takes one element of the list"),
    }
}

/// Numbers by value (integers exactly), strings in byte order; anything else does not
/// compare.
fn order(actual: &Value, bound: &Value) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (integer(actual), integer(bound)) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (float(actual), float(bound)) {
        return a.partial_cmp(&b);
    }
    match (actual, bound) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        // A header compared with a number: the header's text as a number.
        (Value::String(a), bound) => a.trim().parse::<f64>().ok()?.partial_cmp(&float(bound)?),
        _ => None,
    }
}

fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::I32(n) => Some((*n).into()),
        Value::I64(n) => Some((*n).into()),
        Value::U32(n) => Some((*n).into()),
        Value::U64(n) => Some((*n).into()),
        Value::EnumNumber(n) => Some((*n).into()),
        _ => None,
    }
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::F32(n) => Some((*n).into()),
        Value::F64(n) => Some(*n),
        other => integer(other).map(|n| n as f64),
    }
}

/// Whether `items` holds exactly `expected`, in any order.
fn same_elements(items: &[Value], expected: &[Value]) -> bool {
    if items.len() != expected.len() {
        return false;
    }
    let mut used = vec![false; items.len()];
    expected.iter().all(|wanted| {
        match (0..items.len()).find(|i| !used[*i] && &items[*i] == wanted) {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value_strings_by_bytes_and_headers_as_numbers() {
        assert_eq!(order(&Value::I64(-3), &Value::U64(2)), Some(Ordering::Less));
        assert_eq!(
            order(&Value::U64(u64::MAX), &Value::I64(i64::MAX)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(&Value::F32(2.5), &Value::I32(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(
                &Value::String("2026-01-02T00:00:00Z".into()),
                &Value::String("2025-12-31T23:59:59Z".into())
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(
            order(&Value::String(" 10 ".into()), &Value::F64(9.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(order(&Value::String("ten".into()), &Value::F64(9.5)), None);
        assert_eq!(order(&Value::Bool(true), &Value::I32(1)), None);
    }

    #[test]
    fn unordered_lists_need_the_same_elements_as_often() {
        let list = |items: &[i32]| items.iter().map(|n| Value::I32(*n)).collect::<Vec<_>>();
        assert!(same_elements(&list(&[1, 2, 2]), &list(&[2, 1, 2])));
        assert!(!same_elements(&list(&[1, 2, 2]), &list(&[1, 1, 2])));
        assert!(!same_elements(&list(&[1, 2]), &list(&[1, 2, 2])));
    }

    #[test]
    fn header_tests_hold_on_what_was_sent() {
        let matcher = metadata_matcher(&json!({
            "x-version": {"$glob": "v2.*"},
            "x-load": {"$lt": 5},
            "x-debug": {"$exists": false},
            "x-tier": {"$in": ["gold", "silver"]},
        }))
        .unwrap();
        let sent = |pairs: &[(&str, &str)]| -> Metadata {
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        };
        assert!(matcher.matches(&sent(&[
            ("X-Version", "v2.1"),
            ("x-load", "3"),
            ("x-tier", "gold")
        ])));
        assert!(!matcher.matches(&sent(&[
            ("x-version", "v2.1"),
            ("x-load", "7"),
            ("x-tier", "gold")
        ])));
        assert!(!matcher.matches(&sent(&[
            ("x-version", "v2.1"),
            ("x-load", "3"),
            ("x-tier", "gold"),
            ("x-debug", "1")
        ])));
        assert!(
            !matcher.matches(&sent(&[("x-version", "v2.1"), ("x-tier", "gold")])),
            "a missing header is not less than 5"
        );
        let refused = metadata_matcher(&json!({"x": 5})).err().expect("refused");
        assert!(refused.to_string().contains("give a string"), "{refused}");
    }
}

//! Building a descriptor pool from the user's schema flags: binary `FileDescriptorSet`s
//! (`--descriptor-set`) and `.proto` files compiled in-process with protox (`--proto`,
//! `-I`), well-known types included. Every failure names the file at fault.

use super::Schema;
use anyhow::{anyhow, Context};
use miette::Diagnostic;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorSet;
use std::path::{Path, PathBuf};

/// Where a schema comes from, as the user gave it.
#[derive(Clone, Debug, Default)]
pub struct SchemaSources {
    pub protos: Vec<PathBuf>,
    pub include_dirs: Vec<PathBuf>,
    pub descriptor_sets: Vec<PathBuf>,
}

impl SchemaSources {
    pub fn is_empty(&self) -> bool {
        self.protos.is_empty() && self.descriptor_sets.is_empty()
    }

    /// Loads every source into one pool. Two files defining the same name are refused.
    pub fn load(&self) -> anyhow::Result<Schema> {
        let mut pool = DescriptorPool::new();
        for path in &self.descriptor_sets {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read descriptor set {}", path.display()))?;
            add_descriptor_set_bytes(&mut pool, &bytes)
                .with_context(|| format!("{} is not a usable descriptor set", path.display()))?;
        }
        if !self.protos.is_empty() {
            let set = self.compile_protos()?;
            add_descriptor_set(&mut pool, set)
                .context("the .proto files conflict with the other schema files")?;
        }
        Ok(Schema::from_pool(pool))
    }

    fn compile_protos(&self) -> anyhow::Result<FileDescriptorSet> {
        // Like protoc, a file is found relative to an include directory; without -I, each
        // file's own directory is its include directory.
        let include_dirs: Vec<PathBuf> = if self.include_dirs.is_empty() {
            let mut dirs: Vec<PathBuf> =
                self.protos.iter().map(|proto| parent_dir(proto)).collect();
            dirs.dedup();
            dirs
        } else {
            self.include_dirs.clone()
        };
        let mut compiler =
            protox::Compiler::new(&include_dirs).map_err(|error| anyhow!("{error}"))?;
        compiler.include_imports(true);
        for proto in &self.protos {
            // protox reports a file that is nowhere as "not in any include path", which
            // reads as an -I problem; a path that names no file is the usual mistake.
            let found = proto.is_file()
                || (proto.is_relative()
                    && include_dirs.iter().any(|dir| dir.join(proto).is_file()));
            if !found {
                anyhow::bail!(
                    "{}: no such file (--proto takes the path of a .proto file{})",
                    proto.display(),
                    match self.include_dirs.is_empty() {
                        true => String::new(),
                        false => ", or one relative to an -I directory".to_owned(),
                    }
                );
            }
            compiler
                .open_file(proto)
                .map_err(|error| describe_compile_error(proto, &error))?;
        }
        Ok(compiler.file_descriptor_set())
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `file:line:column: message`, the way compilers report, from protox's diagnostic.
fn describe_compile_error(opened: &Path, error: &protox::Error) -> anyhow::Error {
    let file = error
        .file()
        .map(str::to_owned)
        .unwrap_or_else(|| opened.display().to_string());
    let location = error
        .labels()
        .and_then(|mut labels| labels.next())
        .and_then(|label| {
            let source = error.source_code()?;
            let span = source.read_span(label.inner(), 0, 0).ok()?;
            Some(format!(":{}:{}", span.line() + 1, span.column() + 1))
        })
        .unwrap_or_default();
    let mut message = error.to_string();
    if let Some(help) = error.help() {
        message.push_str(&format!(" ({help})"));
    }
    anyhow!("{file}{location}: {message}")
}

pub(super) fn add_descriptor_set_bytes(
    pool: &mut DescriptorPool,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let set = FileDescriptorSet::decode(bytes)
        .map_err(|error| anyhow!("not a FileDescriptorSet: {error}"))?;
    if set.file.is_empty() {
        anyhow::bail!("not a FileDescriptorSet: it holds no files");
    }
    add_descriptor_set(pool, set)
}

fn add_descriptor_set(pool: &mut DescriptorPool, set: FileDescriptorSet) -> anyhow::Result<()> {
    // protoc and protox render the well-known types slightly differently; whichever came
    // first is kept so that mixing the two is not a conflict.
    let files = set
        .file
        .into_iter()
        .filter(|file| {
            !(file.name().starts_with("google/protobuf/")
                && pool.get_file_by_name(file.name()).is_some())
        })
        .collect::<Vec<_>>();
    pool.add_file_descriptor_protos(files)
        .map_err(|error| anyhow!("{error}"))
}

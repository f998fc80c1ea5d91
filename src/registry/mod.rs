//! Service discovery (spec §6, §7): where `rmicro serve` publishes its node and where
//! `rmicro call --service` and `rmicro list` find nodes. Records are go-micro's
//! (`record`); the embedded registry (`file`) needs no server. The selector picks a node
//! per attempt.

pub mod etcd;
pub mod file;
pub mod mdns;
pub mod record;
pub mod selector;

use crate::exit_code::UsageError;
use etcd::EtcdRegistry;
use file::FileRegistry;
use mdns::MdnsRegistry;
use record::Service;
use selector::AvoidList;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::time::Duration;

/// A registry back-end, chosen by `--registry` or the environment.
pub enum Registry {
    File(FileRegistry),
    Etcd(EtcdRegistry),
    Mdns(MdnsRegistry),
}

impl Registry {
    /// From `--registry URL`, else `RMICRO_REGISTRY`, else go-micro's `MICRO_REGISTRY`
    /// (with `MICRO_REGISTRY_ADDRESS`), else the embedded registry. `timeout` bounds each
    /// operation of a networked registry.
    pub fn from_setting(setting: Option<&str>, timeout: Duration) -> anyhow::Result<Registry> {
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let setting = setting
            .map(str::to_owned)
            .or_else(|| env("RMICRO_REGISTRY"))
            .or_else(|| {
                env("MICRO_REGISTRY").map(|kind| match env("MICRO_REGISTRY_ADDRESS") {
                    Some(address) => format!("{kind}://{address}"),
                    None => kind,
                })
            });
        let Some(setting) = setting else {
            return Ok(Registry::File(FileRegistry::new(default_root())));
        };
        let (scheme, rest) = setting.split_once("://").unwrap_or((setting.as_str(), ""));
        match scheme {
            "embedded" | "file" if rest.is_empty() => {
                Ok(Registry::File(FileRegistry::new(default_root())))
            }
            "file" => Ok(Registry::File(FileRegistry::new(PathBuf::from(rest)))),
            "etcd" => Ok(Registry::Etcd(EtcdRegistry::new(rest, timeout))),
            // go-micro ignores an address for mDNS; so do we.
            "mdns" => Ok(Registry::Mdns(MdnsRegistry::new()?)),
            other => Err(UsageError(format!(
                "unknown registry {other:?}: use file://DIR (the embedded registry), etcd://HOST:PORT or mdns"
            ))
            .into()),
        }
    }

    /// The name go-micro puts in a node's `registry` metadata.
    pub fn kind(&self) -> &'static str {
        match self {
            Registry::File(_) => "rmicro",
            Registry::Etcd(_) => "etcd",
            Registry::Mdns(_) => "mdns",
        }
    }

    /// For messages: which registry, and where.
    pub fn describe(&self) -> String {
        match self {
            Registry::File(registry) => {
                format!("the embedded registry at {}", registry.root().display())
            }
            Registry::Etcd(registry) => registry.describe(),
            Registry::Mdns(registry) => registry.describe(),
        }
    }

    pub async fn register(&self, service: &Service, ttl: Duration) -> anyhow::Result<()> {
        match self {
            Registry::File(registry) => registry.register(service, ttl),
            Registry::Etcd(registry) => registry.register(service, ttl).await,
            Registry::Mdns(registry) => registry.register(service).await,
        }
    }

    pub async fn deregister(&self, service: &Service) -> anyhow::Result<()> {
        match self {
            Registry::File(registry) => registry.deregister(service),
            Registry::Etcd(registry) => registry.deregister(service).await,
            Registry::Mdns(registry) => registry.deregister(service).await,
        }
    }

    /// The service's records, one per version; empty when it is not registered.
    pub async fn get_service(&self, name: &str) -> anyhow::Result<Vec<Service>> {
        match self {
            Registry::File(registry) => registry.get_service(name),
            Registry::Etcd(registry) => registry.get_service(name).await,
            Registry::Mdns(registry) => registry.get_service(name).await,
        }
    }

    /// Like [`Registry::get_service`], but a service that is not registered is an error.
    pub async fn find_service(&self, name: &str) -> anyhow::Result<Vec<Service>> {
        let services = self.get_service(name).await?;
        if services.is_empty() {
            let known = self.list_services().await.unwrap_or_default();
            let suggestions =
                crate::suggest::closest(name, known.iter().map(|service| service.name.as_str()));
            anyhow::bail!(
                "service {name} not found in {}{}",
                self.describe(),
                match suggestions.is_empty() {
                    true => "; `rmicro list` shows the registered services".to_owned(),
                    false => crate::suggest::did_you_mean(&suggestions),
                }
            );
        }
        Ok(services)
    }

    pub async fn list_services(&self) -> anyhow::Result<Vec<Service>> {
        match self {
            Registry::File(registry) => registry.list_services(),
            Registry::Etcd(registry) => registry.list_services().await,
            Registry::Mdns(registry) => registry.list_services().await,
        }
    }

    /// Where the selector starts: a turn shared by every process (round-robin), or a
    /// random number.
    pub fn first_pick(&self, name: &str, strategy: selector::Strategy) -> anyhow::Result<u64> {
        match (strategy, self) {
            (selector::Strategy::RoundRobin, Registry::File(registry)) => registry.next_turn(name),
            // Turns are taken on this machine: exact across its rmicro processes.
            (selector::Strategy::RoundRobin, Registry::Etcd(_) | Registry::Mdns(_)) => {
                FileRegistry::new(default_root()).next_turn(name)
            }
            (selector::Strategy::Random, _) => Ok(random()),
        }
    }

    pub fn avoid_list(&self) -> AvoidList {
        match self {
            Registry::File(registry) => AvoidList::new(registry.root().join(".avoid")),
            Registry::Etcd(_) | Registry::Mdns(_) => AvoidList::new(default_root().join(".avoid")),
        }
    }
}

/// `$XDG_RUNTIME_DIR/rmicro/registry`, else `/tmp/rmicro-<uid>/registry`: per user,
/// shared by that user's processes, gone at reboot like the servers it lists.
fn default_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("rmicro/registry"),
        // SAFETY: getuid(2) cannot fail.
        None => PathBuf::from(format!("/tmp/rmicro-{}/registry", unsafe {
            libc::getuid()
        })),
    }
}

/// A random number from the standard library's per-process hash keys.
pub fn random() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
}

/// `<name>-<uuid v4>`, as go-micro names nodes.
pub fn node_id(name: &str) -> String {
    let (high, low) = (random(), random());
    format!(
        "{name}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0x0fff,
        (low >> 48) & 0x3fff | 0x8000,
        low & 0xffff_ffff_ffff
    )
}

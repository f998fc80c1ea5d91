//! The IPv4 interfaces mDNS can use: up, with MULTICAST, from getifaddrs(3).

use std::ffi::CStr;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub address: Ipv4Addr,
}

/// Every IPv4 interface that is up and can multicast, and the names of all interfaces
/// (for the error when none can).
pub fn multicast_interfaces() -> std::io::Result<(Vec<Interface>, Vec<String>)> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (mut usable, mut all) = (Vec::new(), Vec::new());
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` points into the list getifaddrs returned, which is still live.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        if !all.contains(&name) {
            all.push(name.clone());
        }
        let flags = entry.ifa_flags as libc::c_int;
        let wanted = libc::IFF_UP | libc::IFF_MULTICAST;
        // SAFETY: a non-null ifa_addr points to a sockaddr of the family it names.
        if entry.ifa_addr.is_null()
            || flags & wanted != wanted
            || i32::from(unsafe { (*entry.ifa_addr).sa_family }) != libc::AF_INET
        {
            continue;
        }
        // SAFETY: the family is AF_INET, so the sockaddr is a sockaddr_in.
        let address = unsafe {
            (*(entry.ifa_addr as *const libc::sockaddr_in))
                .sin_addr
                .s_addr
        };
        usable.push(Interface {
            name,
            address: Ipv4Addr::from(u32::from_be(address)),
        });
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok((usable, all))
}

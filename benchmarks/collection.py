"""A collection shaped like real Windows hosts, made from the real sample EVTX files.

    python benchmarks/collection.py OUT [--hosts 10] [--channels 400] [--small-mean 15]
                                        [--seed 22] [--samples DIR]
    python benchmarks/collection.py OUT --bench [--repeat 3] [--plaso PATH] [--against DIR]

``--bench`` writes the collection into OUT if it is not there, then times, side by side
in one run (each figure the best of ``--repeat``, the figures of one repeat run one
after the other so that a busy machine slows them alike): raw single-core ``evtx``
iteration of every file (the floor), ``skewsleuth investigate OUT`` (the CLI, with
start-up and JSON), the CLI on one host's folder and on the 23 samples, and plaso's
``log2timeline --parsers winevtx`` on those two (once each: it takes minutes). It
prints the machine and its load average with the figures, and each repeat's ratio to
the floor measured just before it (on a shared machine, the best of those is steadier
than the ratio of the bests). ``--against DIR`` also runs, in each repeat, the CLI of
the skewsleuth package in DIR (``git archive REV skewsleuth | tar -x -C DIR``).

A Windows host yields 300-400 channel files (``C:\\Windows\\System32\\winevt\\Logs``). A
few are big (Security, System, Application); most hold a few records, yet are 1 MB or
more on disk, because the event log service grows a file in steps and leaves the chunks
it has not used yet as zeros. The cost per file, not per record, decides the speed on
such a collection (issue 22).

How the files are made, one folder per host (``host01/`` ...):

- **Big channels** (``Security.evtx``, ``System.evtx``, ``Application.evtx``): byte for
  byte copies of real samples (``security.evtx``, ``system.evtx``,
  ``sample-with-irregular-bool-values.evtx``).
- **Medium channels** (two a host): byte for byte copies of real 1 MB channel files
  (LiveId, CAPI2, Shell-Core, ...).
- **Small channels** (the rest): the file header and ONE real chunk of a sample, cut
  after its first k records (k drawn around ``--small-mean``, at least one), then, for
  nine files in ten, 16 chunks of zeros (a file of 1,118,208 bytes, as Windows
  preallocates), else none (69,632 bytes, a channel's first size). Only the first k
  records of a chunk are kept because a record's BinXml refers back to templates and
  names defined by earlier records of its chunk, never forward. The chunk header's
  last record number, last record id, last record's offset and free space offset are
  set to the k-th record, the bytes after it zeroed, the string and template table
  entries that pointed past it cleared, and both CRC32s (records, chunk header) and
  the file header (one chunk, next record id, CRC32) written anew.

Every written file is read back with the ``evtx`` package and must render exactly the
records (record id and JSON) the sample renders for those ids: the generator stops
otherwise. The records are real; their content does not match the channel name they
are filed under, and the same records recur on several hosts (they name the
sample's own computers), so the investigation drops the copies as duplicates.

Only samples the parser reads without error are used. Channel names are real Windows
channel names. The collection is the same for the same arguments (``--seed``).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent.parent / "shared" / "data" / "evtx"
if not SAMPLES.is_dir():
    SAMPLES = Path("/work/shared/data/evtx")

HEADER_BLOCK = 4096
CHUNK = 65536
CHUNK_HEADER = 512
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
PREALLOCATED_CHUNKS = 16         # 4096 + 17 * 65536 = 1,118,208 bytes, as real channel files are

BIG = {"Security.evtx": "security.evtx", "System.evtx": "system.evtx",
       "Application.evtx": "sample-with-irregular-bool-values.evtx"}
MEDIUM = ["2-system-Microsoft-Windows-LiveId%4Operational.evtx",
          "E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
          "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
          "E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx",
          "Security_with_size_t.evtx", "2-vss_7-System.evtx", "post-Security.evtx"]
MEDIUM_PER_HOST = 2
# Chunks to cut small channels from: every chunk with records of these clean samples.
CHUNK_SOURCES = sorted(set(BIG.values()) | set(MEDIUM))

# Real channel names of a Windows Server (the components; each gets the suffixes below).
COMPONENTS = """AAD AppLocker AppModel-Runtime AppReadiness AppXDeployment AppXDeploymentServer
Application-Experience ApplicationResourceManagementSystem BitLocker-API BitLocker-DrivePreparationTool
Bits-Client BranchCacheSMB CAPI2 CertificateServicesClient-Lifecycle-System
CertificateServicesClient-Lifecycle-User CloudStore CodeIntegrity Crypto-DPAPI Crypto-NCrypt
DeviceGuard DeviceManagement-Enterprise-Diagnostics-Provider DeviceSetupManager Dhcp-Client
Dhcpv6-Client Diagnosis-DPS Diagnosis-PLA Diagnosis-Scheduled Diagnosis-Scripted DiskDiagnostic
DNS-Client DriverFrameworks-UserMode DSC EapHost EventCollector Fault-Tolerant-Heap
FileServices-ServerManager-EventProvider Folder-Redirection GroupPolicy Hyper-V-Guest-Drivers
Hyper-V-Hypervisor Hyper-V-VmSwitch IdCtrls International Iphlpsvc Kernel-Boot Kernel-EventTracing
Kernel-IO Kernel-PnP Kernel-Power Kernel-ShimEngine Kernel-StoreMgr Kernel-WHEA Known-Folders
LanguagePackSetup LiveId Management-UI MUI NCSI NetworkProfile NlaSvc Ntfs NTLM OfflineFiles
OneBackup PowerShell PrintService Program-Compatibility-Assistant ReadyBoost RemoteApp-and-Desktop-Connections
RemoteAssistance RemoteDesktopServices-RdpCoreTS RemoteDesktopServices-SessionServices Resource-Exhaustion-Detector
RestartManager Security-Audit-Configuration-Client Security-EnterpriseData-FileRevocationManager
Security-Mitigations Security-Netlogon Security-SPP-UX-Notifications SecurityMitigationsBroker ServerManager
ServiceReportingApi SettingSync Shell-ConnectedAccountState Shell-Core SmartCard-Audit SmartCard-DeviceEnum
SmbClient SMBDirect SMBServer SMBWitnessClient StateRepository Storage-ClassPnP Storage-Storport
StorageManagement StorageSpaces-Driver Store TaskScheduler TCPIP TerminalServices-LocalSessionManager
TerminalServices-PnPDevices TerminalServices-Printers TerminalServices-RemoteConnectionManager
Time-Service Time-Service-PTP-Provider TPM-WMI TWinUI TZSync TZUtil UAC UAC-FileVirtualization
User-Loader User-Profile-Service User-PnP UserPnp VDRVROOT VerifyHardwareSecurity VHDMP
VolumeSnapshot-Driver Wcmsvc WER-PayloadHealth WFP Win32k Windows-Defender Windows-Firewall-With-Advanced-Security
WindowsSystemAssessmentTool WindowsUpdateClient WinINet-Config WinRM Winlogon Winsock-WS2HELP
WMI-Activity WPD-ClassInstaller WPD-CompositeClassDriver WPD-MTPClassDriver""".split()
SUFFIXES = ["%4Operational", "%4Admin", "%4Diagnostic"]


def channel_names(n: int) -> list[str]:
    names = [f"Microsoft-Windows-{c}{s}.evtx" for s in SUFFIXES for c in COMPONENTS]
    if n > len(names):
        names += [f"Microsoft-Windows-{c}%4Analytic{k}.evtx" for k in range(n) for c in COMPONENTS]
    return names[:n]


def records_of(chunk: bytes) -> list[tuple[int, int, int]]:
    """(offset, size, EventRecordID) of each record of a chunk, up to its free space."""
    free = int.from_bytes(chunk[48:52], "little")
    pos, out = CHUNK_HEADER, []
    while pos + 24 <= min(free, CHUNK) and chunk[pos:pos + 4] == RECORD_MAGIC:
        size = int.from_bytes(chunk[pos + 4:pos + 8], "little")
        if size < 28 or pos + size > free:
            break
        out.append((pos, size, int.from_bytes(chunk[pos + 8:pos + 16], "little")))
        pos += size
    return out


def cut_chunk(header: bytes, chunk: bytes, k: int, zero_chunks: int) -> bytes:
    """A whole EVTX file: ``header`` and ``chunk`` cut after its first ``k`` records,
    then ``zero_chunks`` chunks of zeros (see the module's docstring)."""
    records = records_of(chunk)
    chunk = bytearray(chunk)
    first_no = int.from_bytes(chunk[8:16], "little")
    last_at, last_size, last_id = records[k - 1]
    free = last_at + last_size
    chunk[16:24] = (first_no + k - 1).to_bytes(8, "little")       # last event record number
    chunk[32:40] = last_id.to_bytes(8, "little")                  # last event record id
    chunk[44:48] = last_at.to_bytes(4, "little")                  # last event record data offset
    chunk[48:52] = free.to_bytes(4, "little")                     # free space offset
    chunk[free:] = bytes(CHUNK - free)
    for at in range(128, CHUNK_HEADER, 4):                        # string and template tables
        if int.from_bytes(chunk[at:at + 4], "little") >= free:
            chunk[at:at + 4] = bytes(4)
    chunk[52:56] = zlib.crc32(chunk[CHUNK_HEADER:free]).to_bytes(4, "little")
    chunk[124:128] = zlib.crc32(bytes(chunk[:120]) + bytes(chunk[128:CHUNK_HEADER])).to_bytes(4, "little")
    head = bytearray(header[:HEADER_BLOCK])
    head[8:16] = bytes(8)                                          # first chunk number
    head[16:24] = bytes(8)                                         # last chunk number
    head[24:32] = (last_id + 1).to_bytes(8, "little")              # next record id
    head[0x2A:0x2C] = (1).to_bytes(2, "little")                    # number of chunks
    head[0x7C:0x80] = zlib.crc32(bytes(head[:120])).to_bytes(4, "little")
    return bytes(head) + bytes(chunk) + bytes(CHUNK * zero_chunks)


def rendered(path: Path) -> list[tuple[int, str]]:
    """(EventRecordID, JSON) of every record the parser renders; an error is fatal here."""
    import evtx

    return [(r["event_record_id"], r["data"]) for r in evtx.PyEvtxParser(str(path)).records_json()]


class Chunks:
    """Every chunk with records of the clean samples, and what the parser renders for
    each record id of its sample (to check the files written)."""

    def __init__(self, samples: Path) -> None:
        self.chunks: list[tuple[str, bytes, bytes, list[int]]] = []
        self.json: dict[str, dict[int, str]] = {}
        for name in CHUNK_SOURCES:
            data = (samples / name).read_bytes()
            self.json[name] = dict(rendered(samples / name))
            listed = int.from_bytes(data[0x2A:0x2C], "little")
            for i in range(listed):
                chunk = data[HEADER_BLOCK + i * CHUNK:HEADER_BLOCK + (i + 1) * CHUNK]
                if len(chunk) == CHUNK and chunk.startswith(CHUNK_MAGIC):
                    ids = [rid for _, _, rid in records_of(chunk)]
                    if ids and all(rid in self.json[name] for rid in ids):
                        self.chunks.append((name, data[:HEADER_BLOCK], chunk, ids))

    def write(self, path: Path, rng: random.Random, k: int, zero_chunks: int) -> int:
        name, header, chunk, ids = rng.choice(self.chunks)
        k = max(1, min(k, len(ids)))
        path.write_bytes(cut_chunk(header, chunk, k, zero_chunks))
        want = [(rid, self.json[name][rid]) for rid in ids[:k]]
        if rendered(path) != want:
            sys.exit(f"{path}: the parser does not render the first {k} records of a chunk of {name} as the sample")
        return k


def make_collection(out: Path, *, hosts: int = 10, channels: int = 400, small_mean: float = 15.0,
                    seed: int = 22, samples: Path = SAMPLES) -> tuple[int, int, int]:
    """Write the collection under ``out``; (files, records, bytes)."""
    rng = random.Random(seed)
    chunks = Chunks(samples)
    counts = {name: len(rendered(samples / name)) for name in set(BIG.values()) | set(MEDIUM)}
    names = channel_names(channels - len(BIG) - MEDIUM_PER_HOST)
    files = records = size = 0
    for h in range(1, hosts + 1):
        folder = out / f"host{h:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        copies = [(folder / dst, src) for dst, src in BIG.items()]
        copies += [(folder / f"Medium-{k}-{src.split('-', 1)[-1]}", src)
                   for k, src in enumerate(rng.sample(MEDIUM, MEDIUM_PER_HOST))]
        for dst, src in copies:
            shutil.copyfile(samples / src, dst)
            records += counts[src]
        for name in names:
            # Most channels hold a few records, some a few dozen: a geometric spread.
            k = 1 + int(rng.expovariate(1 / max(small_mean - 1, 0.1)))
            zero_chunks = PREALLOCATED_CHUNKS if rng.random() < 0.9 else 0
            records += chunks.write(folder / name, rng, k, zero_chunks)
        for f in folder.iterdir():
            files += 1
            size += f.stat().st_size
    return files, records, size


def _cli(folder: Path, package: Path | None = None) -> float:
    """Wall time of ``skewsleuth investigate FOLDER`` (as a user runs it), with the
    package in ``package`` when given."""
    import os
    import subprocess
    import time

    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = str(package)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "skewsleuth", "investigate", str(folder), "-q", "--json", os.devnull],
                   check=False, capture_output=True, env=env)
    return time.perf_counter() - start


def bench(out: Path, repeat: int, plaso: str | None, samples: Path, against: Path | None = None) -> None:
    import os
    import platform
    import tempfile
    import time
    from importlib import metadata

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from evtx_ingest import _plaso, raw_iteration

    files = sorted(out.rglob("*.evtx"))
    host = sorted(p for p in out.iterdir() if p.is_dir())[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
          f"evtx {metadata.version('evtx')}, duckdb {metadata.version('duckdb')}; "
          f"load average at the start {os.getloadavg()[0]:.2f}")
    size = sum(f.stat().st_size for f in files)
    floor, cli, cli_host, cli_samples, other = [], [], [], [], []
    n = 0
    for k in range(repeat):
        start = time.perf_counter()
        n = raw_iteration(files)
        floor.append(time.perf_counter() - start)
        cli.append(_cli(out))
        if against is not None:
            other.append(_cli(out, against))
        cli_host.append(_cli(host))
        cli_samples.append(_cli(samples))
        print(f"  repeat {k + 1}: floor {floor[-1]:.2f} s, CLI {cli[-1]:.2f} s (x{cli[-1] / floor[-1]:.2f})"
              + (f", {against}'s CLI {other[-1]:.2f} s (x{other[-1] / floor[-1]:.2f})" if other else "")
              + f", one host {cli_host[-1]:.2f} s, 23 samples {cli_samples[-1]:.2f} s "
              f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"collection: {len(files):,} files, {n:,} records, {size / 1e6:,.0f} MB")
    print(f"raw evtx iteration (1 core, the floor): {min(floor):7.2f} s")
    print(f"skewsleuth investigate (CLI):           {min(cli):7.2f} s  x{min(cli) / min(floor):.2f} the floor; "
          f"best ratio of a repeat x{min(c / f for c, f in zip(cli, floor)):.2f}")
    if other:
        print(f"{against}'s CLI:  {min(other):7.2f} s  x{min(other) / min(floor):.2f} the floor; "
              f"best ratio of a repeat x{min(c / f for c, f in zip(other, floor)):.2f}")
    print(f"one host ({len(list(host.glob('*.evtx')))} files), CLI:           {min(cli_host):7.2f} s")
    print(f"the 23 samples, CLI:                    {min(cli_samples):7.2f} s")
    if plaso:
        with tempfile.TemporaryDirectory(prefix="plaso-") as tmp:
            for name, folder, ours in (("one host", host, min(cli_host)), ("the 23 samples", samples, min(cli_samples))):
                took = _plaso(plaso, folder, Path(tmp))
                (Path(tmp) / "plaso.plaso").unlink()
                print(f"plaso log2timeline, {name}: {took:7.2f} s  -> the CLI x{took / ours:.1f} faster "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the collection into (made if missing)")
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--channels", type=int, default=400, help="channel files per host")
    parser.add_argument("--small-mean", type=float, default=15.0, help="mean records of a small channel")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the real sample EVTX files")
    parser.add_argument("--bench", action="store_true", help="time the collection (written first if missing)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plaso", default=shutil.which("log2timeline.py") or shutil.which("log2timeline"),
                        help="plaso's log2timeline to compare with (default: on PATH)")
    parser.add_argument("--against", type=Path, help="a folder holding another skewsleuth package to time too")
    args = parser.parse_args()
    if args.bench and args.out.is_dir() and any(args.out.iterdir()):
        bench(args.out, args.repeat, args.plaso, args.samples, args.against)
        return
    if args.channels < len(BIG) + MEDIUM_PER_HOST + 1:
        sys.exit(f"--channels must be at least {len(BIG) + MEDIUM_PER_HOST + 1}")
    files, records, size = make_collection(args.out, hosts=args.hosts, channels=args.channels,
                                           small_mean=args.small_mean, seed=args.seed, samples=args.samples)
    print(f"{args.out}: {files:,} files of {args.hosts} hosts, {records:,} records, {size / 1e6:,.0f} MB")
    if args.bench:
        bench(args.out, args.repeat, args.plaso, args.samples, args.against)


if __name__ == "__main__":
    main()

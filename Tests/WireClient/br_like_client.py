#!/usr/bin/env python3
"""An independent restore client, built from kvproto's own protos (grpcio-tools' output in
kvproto/), that drives a PD and its TiKV stores the way BR does:

  GetMembers, GetAllStores, the MultiIngest probe, SwitchMode(Import), ScanRegions,
  SplitRegion on the leader's store, GetRegionByID until the new regions have leaders,
  ScatterRegion and GetOperator, Download to every peer's store, MultiIngest on the leader,
  SwitchMode(Normal).

It restores the backup's table OLD as table NEW (a Keyspace rewrite rule on plain prefixes),
splitting the new table's range at its middle row, and prints a JSON report on stdout: the
regions, the files, and the kvs per column family it expects the stores to hold.
"""
import argparse
import json
import os
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kvproto"))

import grpc  # noqa: E402
import brpb_pb2  # noqa: E402
import import_sstpb_pb2  # noqa: E402
import import_sstpb_pb2_grpc  # noqa: E402
import kvrpcpb_pb2  # noqa: E402
import pdpb_pb2  # noqa: E402
import pdpb_pb2_grpc  # noqa: E402


def encode_bytes(data):
    """Memcomparable encoding (TiKV's codec::bytes::encode_bytes)."""
    out = bytearray()
    for i in range(0, len(data) + 1, 8):
        group = data[i:i + 8]
        pad = 8 - len(group)
        out += group + b"\x00" * pad + bytes([0xFF - pad])
    return bytes(out)


def decode_bytes(data):
    """The inverse of encode_bytes: the plain key of an encoded one (a trailing timestamp ignored)."""
    out = bytearray()
    for i in range(0, len(data), 9):
        group, marker = data[i:i + 8], data[i + 8]
        pad = 0xFF - marker
        out += group[:8 - pad]
        if pad:
            return bytes(out)
    raise ValueError("not memcomparable")


def table_prefix(table_id):
    return b"t" + struct.pack(">Q", (table_id + (1 << 63)) & ((1 << 64) - 1))


def record_key(table_id, handle):
    return table_prefix(table_id) + b"_r" + struct.pack(">Q", (handle + (1 << 63)) & ((1 << 64) - 1))


def clip(start, end, region):
    """The part of [start, end) inside the region; None when they do not overlap."""
    lo = max(start, region.start_key)
    hi = end if not region.end_key else min(end, region.end_key)
    return (lo, hi) if lo < hi else None


class Client:
    def __init__(self, pd_address):
        self.pd = pdpb_pb2_grpc.PDStub(grpc.insecure_channel(pd_address))
        members = self.pd.GetMembers(pdpb_pb2.GetMembersRequest(), timeout=10)
        self.cluster_id = members.header.cluster_id
        self.header = pdpb_pb2.RequestHeader(cluster_id=self.cluster_id)
        stores = self.pd.GetAllStores(pdpb_pb2.GetAllStoresRequest(header=self.header, exclude_tombstone_stores=True), timeout=10)
        self.channels = {s.id: grpc.insecure_channel(s.peer_address or s.address) for s in stores.stores}
        self.importers = {sid: import_sstpb_pb2_grpc.ImportSSTStub(ch) for sid, ch in self.channels.items()}

    def split_region(self, store_id, request):
        call = self.channels[store_id].unary_unary(
            "/tikvpb.Tikv/SplitRegion",
            request_serializer=kvrpcpb_pb2.SplitRegionRequest.SerializeToString,
            response_deserializer=kvrpcpb_pb2.SplitRegionResponse.FromString)
        return call(request, timeout=10)

    def scan(self, start, end):
        regions = []
        while True:
            resp = self.pd.ScanRegions(pdpb_pb2.ScanRegionsRequest(header=self.header, start_key=start, end_key=end, limit=128), timeout=10)
            regions += [(r.region, r.leader) for r in resp.regions]
            if not resp.regions or not resp.regions[-1].region.end_key or (end and resp.regions[-1].region.end_key >= end):
                return regions
            start = resp.regions[-1].region.end_key

    def region_by_id(self, region_id):
        return self.pd.GetRegionByID(pdpb_pb2.GetRegionByIDRequest(header=self.header, region_id=region_id), timeout=10)


def data_files(backup_dir):
    with open(os.path.join(backup_dir, "backupmeta"), "rb") as f:
        meta = brpb_pb2.BackupMeta.FromString(f.read())
    files = list(meta.files)

    def walk(index):
        for entry in index.meta_files:
            with open(os.path.join(backup_dir, entry.name), "rb") as f:
                child = brpb_pb2.MetaFile.FromString(f.read())
            files.extend(child.data_files)
            walk(child)

    walk(meta.file_index)
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pd", required=True)
    parser.add_argument("--backup", required=True, help="a local backup directory, read by the stores too")
    parser.add_argument("--old-table", type=int, required=True)
    parser.add_argument("--new-table", type=int, required=True)
    parser.add_argument("--split-handle", type=int, required=True)
    parser.add_argument("--batch", action="store_true", help="BatchDownload each column family's files of a region, merged into one SST")
    args = parser.parse_args()

    client = Client(args.pd)
    calls = []
    # BR's pre-work: every store's version parses as semver (br/pkg/version CheckClusterVersion),
    # a timestamp from PD's TSO, and a service GC safe point below it (br/pkg/utils/safe_point.go).
    stores = client.pd.GetAllStores(pdpb_pb2.GetAllStoresRequest(header=client.header), timeout=10).stores
    versions = [s.version for s in stores]
    tso = client.pd.Tso(iter([pdpb_pb2.TsoRequest(header=client.header, count=1), pdpb_pb2.TsoRequest(header=client.header, count=10)]), timeout=10)
    stamps = [(r.timestamp.physical << 18) + r.timestamp.logical for r in tso]
    safe = client.pd.UpdateServiceGCSafePoint(pdpb_pb2.UpdateServiceGCSafePointRequest(
        header=client.header, service_id=b"br-restore-console-test", TTL=300, safe_point=stamps[0] - 1), timeout=10)
    calls += ["Tso", "UpdateServiceGCSafePoint"]
    for sid, importer in client.importers.items():
        importer.MultiIngest(import_sstpb_pb2.MultiIngestRequest(), timeout=10)  # the probe
        importer.SwitchMode(import_sstpb_pb2.SwitchModeRequest(mode=import_sstpb_pb2.Import), timeout=10)
    calls += ["GetMembers", "GetAllStores", "MultiIngest(probe)", "SwitchMode(Import)"]

    old_prefix, new_prefix = table_prefix(args.old_table), table_prefix(args.new_table)
    new_start, new_end = encode_bytes(new_prefix), encode_bytes(table_prefix(args.new_table + 1))

    # Split at the new table's bounds and at one row inside it, on the leader's store, with raw keys.
    for raw in [new_prefix, record_key(args.new_table, args.split_handle), table_prefix(args.new_table + 1)]:
        encoded = encode_bytes(raw)
        for _ in range(20):
            region = client.pd.GetRegion(pdpb_pb2.GetRegionRequest(header=client.header, region_key=encoded), timeout=10)
            if region.region.start_key == encoded:
                break
            if not region.leader.id:
                time.sleep(0.1)
                continue
            ctx = kvrpcpb_pb2.Context(region_id=region.region.id, region_epoch=region.region.region_epoch, peer=region.leader)
            resp = client.split_region(region.leader.store_id, kvrpcpb_pb2.SplitRegionRequest(context=ctx, split_keys=[raw]))
            if resp.HasField("region_error"):
                time.sleep(0.1)
                continue
            new_ids = [r.id for r in resp.regions if r.id != region.region.id]
            for rid in new_ids:
                for _ in range(100):
                    if client.region_by_id(rid).leader.id:
                        break
                    time.sleep(0.05)
            scatter = client.pd.ScatterRegion(pdpb_pb2.ScatterRegionRequest(header=client.header, regions_id=new_ids, skip_store_limit=True), timeout=60)
            assert scatter.finished_percentage == 100, scatter
            for rid in new_ids:
                for _ in range(100):
                    op = client.pd.GetOperator(pdpb_pb2.GetOperatorRequest(header=client.header, region_id=rid), timeout=10)
                    if op.desc != b"scatter-region" or op.status != pdpb_pb2.RUNNING:
                        break
                    time.sleep(0.05)
            break
        else:
            raise SystemExit(f"could not split at {raw.hex()}")
    calls += ["GetRegion", "SplitRegion", "GetRegionByID", "ScatterRegion", "GetOperator"]

    # File ranges are raw TiDB keys: the table's files start with its prefix.
    files = [f for f in data_files(args.backup) if f.start_key.startswith(old_prefix)]
    rule = import_sstpb_pb2.RewriteRule(old_key_prefix=old_prefix, new_key_prefix=new_prefix)
    regions = client.scan(new_start, new_end)
    ingested = {"write": 0, "default": 0}
    touched = set()
    for region, leader in regions:
        window = clip(new_start, new_end, region)
        if window is None:
            continue
        ssts = []
        # A Keyspace download names its range in plain keys; TiKV encodes them itself.
        plain = [decode_bytes(k) if k else b"" for k in window]

        def region_meta(cf):
            return import_sstpb_pb2.SSTMeta(
                uuid=uuid.uuid4().bytes, range=import_sstpb_pb2.Range(start=plain[0], end=plain[1]),
                cf_name=cf, region_id=region.id, region_epoch=region.region_epoch, end_key_exclusive=True)

        def download_everywhere(request, batch):
            empty, rng = False, None
            for peer in region.peers:
                call = client.importers[peer.store_id].BatchDownload if batch else client.importers[peer.store_id].Download
                resp = call(request, timeout=60)
                assert not resp.HasField("error"), (peer.store_id, resp.error)
                empty, rng = resp.is_empty, resp.range
            if empty:
                return
            meta = request.sst
            meta.range.CopyFrom(import_sstpb_pb2.Range(start=rng.start, end=rng.end))
            meta.end_key_exclusive = False
            ssts.append(meta)

        backend = brpb_pb2.StorageBackend(local=brpb_pb2.Local(path=os.path.abspath(args.backup)))
        if args.batch:
            # As BR's batchDownloadSST: per column family, `sst` names the merged file and
            # `ssts` maps each file's name to its meta (the same region, epoch and cf).
            for cf in ("default", "write"):
                group = [f for f in files if (f.cf or "default") == cf]
                if not group:
                    continue
                target = region_meta(cf)
                request = import_sstpb_pb2.DownloadRequest(sst=target, rewrite_rule=rule, request_type=import_sstpb_pb2.Keyspace, storage_backend=backend)
                for f in group:
                    meta = import_sstpb_pb2.SSTMeta()
                    meta.CopyFrom(target)
                    meta.length = f.size
                    request.ssts[f.name].CopyFrom(meta)
                download_everywhere(request, batch=True)
        else:
            for f in files:
                meta = region_meta(f.cf or "default")
                meta.length = f.size
                download_everywhere(import_sstpb_pb2.DownloadRequest(
                    sst=meta, name=f.name, rewrite_rule=rule, request_type=import_sstpb_pb2.Keyspace, storage_backend=backend), batch=False)
        if not ssts:
            continue
        ctx = kvrpcpb_pb2.Context(region_id=region.id, region_epoch=region.region_epoch, peer=leader)
        resp = client.importers[leader.store_id].MultiIngest(import_sstpb_pb2.MultiIngestRequest(context=ctx, ssts=ssts), timeout=60)
        assert not resp.HasField("error"), resp.error
        touched.add(region.id)
        for meta in ssts:
            ingested[meta.cf_name] += 1
    calls += ["ScanRegions", "BatchDownload(every peer)" if args.batch else "Download(every peer)", "MultiIngest(leader)"]

    for importer in client.importers.values():
        importer.SwitchMode(import_sstpb_pb2.SwitchModeRequest(mode=import_sstpb_pb2.Normal), timeout=10)
    calls.append("SwitchMode(Normal)")

    # A wrong cluster id is refused, as PD refuses it.
    try:
        client.pd.GetAllStores(pdpb_pb2.GetAllStoresRequest(header=pdpb_pb2.RequestHeader(cluster_id=client.cluster_id + 1)), timeout=10)
        wrong_id = "accepted"
    except grpc.RpcError as e:
        wrong_id = e.code().name
    # PD's TSO refuses a batch of 0 and one larger than a millisecond's 2^18 logical values.
    tso_refused = []
    for count in [0, 1 << 18]:
        try:
            next(iter(client.pd.Tso(iter([pdpb_pb2.TsoRequest(header=client.header, count=count)]), timeout=10)))
            tso_refused.append("answered")
        except grpc.RpcError as e:
            tso_refused.append(e.code().name)
    # A method the server does not serve answers UNIMPLEMENTED.
    try:
        next(iter(client.importers[min(client.importers)].DuplicateDetect(import_sstpb_pb2.DuplicateDetectRequest(), timeout=10)))
        unimplemented = "answered"
    except grpc.RpcError as e:
        unimplemented = e.code().name

    kvs = {"write": 0, "default": 0}
    for f in files:
        kvs[f.cf or "default"] += f.total_kvs
    print(json.dumps({
        "store_versions": versions, "timestamps": stamps, "min_safe_point": safe.min_safe_point,
        "cluster_id": client.cluster_id, "stores": sorted(client.importers), "calls": calls,
        "regions": len(touched), "ssts_ingested": ingested, "files": len(files), "expected_kvs": kvs,
        "wrong_cluster_id": wrong_id, "duplicate_detect": unimplemented, "tso_refused": tso_refused,
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A mutation fuzzer for `cluster serve`'s wire: it builds one valid request for each method a
restore calls (PD's, SplitRegion, Coprocessor's checksum and ImportSST's, BatchDownload among them), with kvproto's and
tipb's own protos, then sends RUNS
mutated copies: half with their bytes mutated (bits flipped, bytes set, inserted, deleted,
duplicated, spliced, varints made huge) as raw gRPC payloads, so that the server's protobuf
parsing is fuzzed too; half with their fields mutated (numbers set to 0, 1, 2^31, 2^63, 2^64-1;
bytes and strings emptied, grown or made paths; ids, epochs and keys of other regions), so that
the handlers behind the parser see valid messages with hostile values.
Every call must be answered (with a response or a gRPC status) and the server must stay up; the
report says how each ended, and whether PD and every store answer afterwards.
"""
import argparse
import collections
import json
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kvproto"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tipb"))

import grpc  # noqa: E402
import brpb_pb2  # noqa: E402
import checksum_pb2  # noqa: E402  (tipb)
import coprocessor_pb2  # noqa: E402
import import_sstpb_pb2  # noqa: E402
import kvrpcpb_pb2  # noqa: E402
import pdpb_pb2  # noqa: E402
import pdpb_pb2_grpc  # noqa: E402


def mutate(rng, data, seeds):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[rng.randrange(len(data))] = rng.choice([0, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif op == 2:
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3 and data:
            i = rng.randrange(len(data))
            del data[i:i + rng.randint(1, 16)]
        elif op == 4 and data:
            i = rng.randrange(len(data))
            data[i:i] = data[i:i + rng.randint(1, 32)]
        elif op == 5:
            other = rng.choice(seeds)
            i, j = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
            data = data[:i] + other[j:]
        else:
            # A varint as large as it gets: lengths and counts past anything real.
            i = rng.randrange(len(data) + 1)
            data[i:i] = b"\xff" * 9 + b"\x01"
    return bytes(data)


EDGE_NUMBERS = [0, 1, 2, 255, 1 << 31, (1 << 32) - 1, 1 << 48, 1 << 63, (1 << 64) - 1]
EDGE_BYTES = [b"", b"\x00", b"\xff" * 64, b"t\x80\x00\x00\x00\x00\x00\x00\x01_r", b"../../../../etc/passwd", b"z" * 4096]


def mutate_fields(rng, message, depth=0):
    """Sets some fields of `message` (and of its sub-messages) to hostile values, in place."""
    fields = message.DESCRIPTOR.fields
    for field in rng.sample(list(fields), k=min(len(fields), rng.randint(1, 3))):
        value = getattr(message, field.name)
        if field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            continue  # maps (BatchDownload's ssts) are left to the byte mutations
        if field.type == field.TYPE_MESSAGE:
            if field.is_repeated:
                if len(value) and rng.random() < 0.5:
                    mutate_fields(rng, value[rng.randrange(len(value))], depth + 1)
                elif depth < 3:
                    for _ in range(rng.choice([1, 2, 50])):
                        mutate_fields(rng, value.add(), depth + 1)
            elif depth < 3:
                mutate_fields(rng, value, depth + 1)
            continue
        if field.is_repeated:
            value.extend([edge_value(rng, field) for _ in range(rng.choice([0, 1, 3, 100]))])
            continue
        setattr(message, field.name, edge_value(rng, field))


def edge_value(rng, field):
    if field.type == field.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == field.TYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values])
    if field.type == field.TYPE_STRING:
        return rng.choice(EDGE_BYTES).decode("latin-1")
    if field.type == field.TYPE_BYTES:
        return rng.choice(EDGE_BYTES + [bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))])
    if field.type in (field.TYPE_INT32, field.TYPE_SINT32, field.TYPE_SFIXED32):
        return rng.choice([0, 1, -1, (1 << 31) - 1, -(1 << 31)])
    if field.type in (field.TYPE_INT64, field.TYPE_SINT64, field.TYPE_SFIXED64):
        return rng.choice([0, 1, -1, (1 << 63) - 1, -(1 << 63)])
    if field.type in (field.TYPE_UINT32, field.TYPE_FIXED32):
        return rng.choice([0, 1, (1 << 32) - 1])
    if field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return rng.choice([0.0, -1.0, 1e308])
    return rng.choice(EDGE_NUMBERS)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pd", required=True)
    parser.add_argument("--backup", required=True, help="a backup directory under the server's storage root")
    parser.add_argument("--file", required=True, help="the name of one of its SSTs")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=64, help="calls in flight at a time")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    pd_channel = grpc.insecure_channel(args.pd)
    pd = pdpb_pb2_grpc.PDStub(pd_channel)
    header = pdpb_pb2.RequestHeader(cluster_id=pd.GetMembers(pdpb_pb2.GetMembersRequest(), timeout=10).header.cluster_id)
    stores = pd.GetAllStores(pdpb_pb2.GetAllStoresRequest(header=header), timeout=10).stores
    store_channels = {s.id: grpc.insecure_channel(s.address) for s in stores}
    region = pd.ScanRegions(pdpb_pb2.ScanRegionsRequest(header=header, limit=1), timeout=10).regions[0]
    r = region.region

    meta = import_sstpb_pb2.SSTMeta(
        uuid=uuid.uuid4().bytes, range=import_sstpb_pb2.Range(start=r.start_key, end=r.end_key), cf_name="write",
        region_id=r.id, region_epoch=r.region_epoch, length=0, end_key_exclusive=True)
    context = kvrpcpb_pb2.Context(region_id=r.id, region_epoch=r.region_epoch, peer=region.leader)
    requests = {
        ("pd", "/pdpb.PD/GetMembers"): pdpb_pb2.GetMembersRequest(header=header),
        ("pd", "/pdpb.PD/GetAllStores"): pdpb_pb2.GetAllStoresRequest(header=header),
        ("pd", "/pdpb.PD/GetStore"): pdpb_pb2.GetStoreRequest(header=header, store_id=1),
        ("pd", "/pdpb.PD/GetRegion"): pdpb_pb2.GetRegionRequest(header=header, region_key=b"t\x80"),
        ("pd", "/pdpb.PD/GetRegionByID"): pdpb_pb2.GetRegionByIDRequest(header=header, region_id=r.id),
        ("pd", "/pdpb.PD/ScanRegions"): pdpb_pb2.ScanRegionsRequest(header=header, start_key=b"", limit=16),
        ("pd", "/pdpb.PD/ScatterRegion"): pdpb_pb2.ScatterRegionRequest(header=header, regions_id=[r.id]),
        ("pd", "/pdpb.PD/GetOperator"): pdpb_pb2.GetOperatorRequest(header=header, region_id=r.id),
        ("store", "/tikvpb.Tikv/SplitRegion"): kvrpcpb_pb2.SplitRegionRequest(context=context, split_keys=[b"t\x80\x00\x00\x00\x00\x00\x00\x01"]),
        ("store", "/tikvpb.Tikv/Coprocessor"): coprocessor_pb2.Request(
            context=context, tp=105, start_ts=1 << 60, ranges=[coprocessor_pb2.KeyRange(start=b"t\x80", end=b"t\x81")],
            data=checksum_pb2.ChecksumRequest(rule=checksum_pb2.ChecksumRewriteRule(old_prefix=b"t\x80", new_prefix=b"t\x80")).SerializeToString()),
        ("store", "/import_sstpb.ImportSST/SwitchMode"): import_sstpb_pb2.SwitchModeRequest(mode=import_sstpb_pb2.Import),
        ("store", "/import_sstpb.ImportSST/SetDownloadSpeedLimit"): import_sstpb_pb2.SetDownloadSpeedLimitRequest(speed_limit=1 << 30),
        ("store", "/import_sstpb.ImportSST/Download"): import_sstpb_pb2.DownloadRequest(
            sst=meta, name=args.file, storage_backend=brpb_pb2.StorageBackend(local=brpb_pb2.Local(path=os.path.abspath(args.backup)))),
        ("store", "/import_sstpb.ImportSST/BatchDownload"): import_sstpb_pb2.DownloadRequest(
            sst=meta, ssts={args.file: meta, "missing.sst": meta},
            storage_backend=brpb_pb2.StorageBackend(local=brpb_pb2.Local(path=os.path.abspath(args.backup)))),
        ("store", "/import_sstpb.ImportSST/MultiIngest"): import_sstpb_pb2.MultiIngestRequest(context=context, ssts=[meta]),
    }
    seeds = [m.SerializeToString() for m in requests.values()]
    calls = list(requests.keys())
    identity = (lambda b: b)

    outcomes = collections.Counter()
    failures = []
    in_flight = collections.deque()

    def settle(entry):
        (kind, method), future = entry
        try:
            future.result()
            outcomes["OK"] += 1
        except grpc.RpcError as e:
            code = e.code()
            outcomes[code.name] += 1
            if code == grpc.StatusCode.UNAVAILABLE:
                failures.append(f"{method}: {e.details()}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{method}: {e!r}")

    for _ in range(args.runs):
        kind, method = rng.choice(calls)
        # A store takes any rate limit a client sets (TiKV does too): field values of 1 byte/s
        # would only make the Downloads after it wait out their deadline, so that one call gets
        # byte mutations alone.
        if rng.random() < 0.5 or method.endswith("SetDownloadSpeedLimit"):
            payload = mutate(rng, requests[(kind, method)].SerializeToString(), seeds)
        else:
            message = type(requests[(kind, method)])()
            message.CopyFrom(requests[(kind, method)])
            mutate_fields(rng, message)
            payload = message.SerializeToString()
        channel = pd_channel if kind == "pd" else store_channels[rng.choice(list(store_channels))]
        call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
        in_flight.append(((kind, method), call.future(payload, timeout=30)))
        if len(in_flight) >= args.window:
            # Whatever has ended first, so that a call that waits out a deadline (a proposal
            # that cannot commit, say) holds up no other; the oldest when none has.
            done = [entry for entry in in_flight if entry[1].done()]
            for entry in done or [in_flight[0]]:
                in_flight.remove(entry)
                settle(entry)
        if len(failures) > 10:
            break
    while in_flight:
        settle(in_flight.popleft())

    alive = {"pd": bool(pd.GetMembers(pdpb_pb2.GetMembersRequest(), timeout=10).header.cluster_id), "stores": []}
    for sid, channel in sorted(store_channels.items()):
        call = channel.unary_unary("/import_sstpb.ImportSST/MultiIngest", request_serializer=identity, response_deserializer=identity)
        call(b"", timeout=10)
        alive["stores"].append(sid)
    print(json.dumps({"runs": sum(outcomes.values()), "outcomes": outcomes, "failures": failures[:10], "alive": alive}))


if __name__ == "__main__":
    main()

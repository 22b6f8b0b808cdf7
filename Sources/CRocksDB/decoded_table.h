// A small SST held in memory, decoded whole at open: its keys and values in one buffer and an
// iterator over them. Opening a backup's small file through RocksDB's SstFileReader (an
// in-memory Env, a table reader, every property parsed into maps) cost more than reading its
// keys. Only the plainest tables are decoded here, those that SstFileWriter and TiKV's backup
// write: block-based, format_version 2 to 5, crc32c or XXH3 checksums, a binary-search index,
// no filter partitions, range deletions or dictionary, puts only, uncompressed or compressed
// with snappy, LZ4 or zstd. Anything else, and any check that fails, is left to RocksDB, which
// then reads or refuses the file in its own words.
#pragma once

#include <rocksdb/iterator.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace decoded_table {

struct Table {
    // The user keys (internal keys without their 8-byte trailer) and values, one after another.
    std::string bytes;
    struct Entry {
        uint32_t key, key_size, value, value_size;
    };
    // In strictly increasing key order.
    std::vector<Entry> entries;
    uint64_t raw_key_size = 0, raw_value_size = 0;
};

// Files larger than this are left to RocksDB: a decoded table is held whole.
constexpr size_t kMaxFileBytes = 4 << 20;

// The table in `data`, or nullptr when it is left to RocksDB.
std::unique_ptr<Table> decode(const unsigned char *data, size_t size);

// An iterator over `table`, which must outlive it.
rocksdb::Iterator *new_iterator(const Table &table);

}  // namespace decoded_table

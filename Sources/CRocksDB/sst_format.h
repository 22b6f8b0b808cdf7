// Pieces of RocksDB's block-based table format (rocksdb table/format.h, table/block_based/block.h
// and block_builder.cc), read with every length and offset checked against the bytes that hold
// it: the footer check before RocksDB opens a file (sst_guard) and the decoder of small tables
// (decoded_table) share them.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#define XXH_INLINE_ALL  // header-only: the block checksums that RocksDB writes by default
#include <xxhash.h>

namespace sst_format {

constexpr uint64_t kMagic = 0x88e241b785f4cff7ull;  // kBlockBasedTableMagicNumber
constexpr size_t kFooterSize = 53;                   // format_version >= 1
constexpr size_t kTrailerSize = 5;                   // compression type, checksum
constexpr int kCRC32c = 1, kXXH3 = 4;               // ChecksumType

inline uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n) {
    static const auto table = [] {
        std::vector<uint32_t> t(256);
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

inline bool varint64(const unsigned char *&p, const unsigned char *end, uint64_t &v) {
    v = 0;
    for (int shift = 0; shift <= 63 && p < end; shift += 7) {
        uint64_t byte = *p++;
        v |= (byte & 0x7F) << shift;
        if (!(byte & 0x80)) return true;
    }
    return false;
}

inline uint32_t fixed32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

struct Handle {
    uint64_t offset = 0, size = 0;
};

// The footer of format_version 1 and later (rocksdb table/format.cc, Footer::DecodeFrom): the
// checksum type, the metaindex and index handles, the format_version and the magic number.
struct Footer {
    int checksum_type = 0;
    uint32_t format_version = 0;
    Handle metaindex, index;
};

enum class FooterFault { none, not_block_based, unknown_checksum, bad_handles };

// Parses the last kFooterSize bytes of a file. The format_version is left to the caller, which
// knows the versions it reads. The handles are not covered by any checksum: see `inside`.
inline FooterFault parse_footer(const unsigned char *bytes, Footer &out) {
    uint64_t magic = 0;
    for (int i = 7; i >= 0; --i) magic = magic << 8 | bytes[45 + i];
    if (magic != kMagic) return FooterFault::not_block_based;
    out.format_version = fixed32(bytes + 41);
    out.checksum_type = bytes[0];
    if (out.checksum_type != kCRC32c && out.checksum_type != kXXH3) return FooterFault::unknown_checksum;
    const unsigned char *p = bytes + 1, *end = bytes + 41;
    if (!varint64(p, end, out.metaindex.offset) || !varint64(p, end, out.metaindex.size) ||
        !varint64(p, end, out.index.offset) || !varint64(p, end, out.index.size))
        return FooterFault::bad_handles;
    return FooterFault::none;
}

// True when the block and its 5-byte trailer lie inside a file of `file_size` bytes. Written so
// that no sum can wrap: a handle's size comes from the file, and may be anything up to 2^64 - 1.
inline bool inside(Handle h, uint64_t file_size) {
    return file_size >= kTrailerSize && h.offset <= file_size - kTrailerSize && h.size <= file_size - kTrailerSize - h.offset;
}

// The checksum stored in a block's trailer (format_version 1 to 5): crc32c of the block and its
// compression type byte, masked; or XXH3 of the block, mixed with the type byte.
inline uint32_t block_checksum(const unsigned char *block, size_t size, int checksum_type) {
    if (checksum_type == kCRC32c) {
        uint32_t crc = crc32c(0, block, size + 1);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
    return uint32_t(XXH3_64bits(block, size)) ^ (uint32_t(block[size]) * 0x6b9083d9u);
}

// Reads `n` bytes at `offset` of the file being checked into `out`; false when it cannot.
using ReadAt = std::function<bool(uint64_t offset, size_t n, char *out)>;

// Reads an uncompressed block (a metaindex or properties block) into `block`; true when its
// type is "no compression" and its checksum matches.
inline bool read_verified(const ReadAt &read, uint64_t file_size, Handle h, int checksum_type, std::string &block) {
    if (!inside(h, file_size) || h.size > (64u << 20)) return false;
    block.resize(h.size + kTrailerSize);
    if (!read(h.offset, block.size(), &block[0])) return false;
    auto *bytes = reinterpret_cast<const unsigned char *>(block.data());
    if (bytes[h.size] != 0 || fixed32(bytes + h.size + 1) != block_checksum(bytes, h.size, checksum_type)) return false;
    block.resize(h.size);
    return true;
}

// Calls `each(key, value, value_end, at_restart)` for the entries of a block (prefix-compressed
// keys, a restart array at the end); false when the block is malformed or `each` says stop with
// false. An index block of format_version 4 and later stores no value lengths
// (`values_have_length` false): its value, a block handle or a size delta, runs to the next entry
// and `each` moves `value` past what it read.
using Entry = std::function<bool(const std::string &key, const unsigned char *&value, const unsigned char *value_end, bool at_restart)>;

inline bool for_each_entry(const unsigned char *block, size_t size, bool values_have_length, const Entry &each) {
    if (size < 4) return false;
    uint32_t restarts = fixed32(block + size - 4);
    if (restarts & 0x80000000u) return false;  // a hash index follows the restarts: not read here
    if (restarts == 0 || restarts > (size - 4) / 4) return false;
    const unsigned char *limit = block + size - 4 - 4 * size_t(restarts);
    const unsigned char *restart_array = limit;
    uint32_t next_restart = 0;  // index into the restart array
    const unsigned char *p = block;
    std::string key;
    while (p < limit) {
        bool at_restart = next_restart < restarts && fixed32(restart_array + 4 * next_restart) == uint64_t(p - block);
        if (at_restart) ++next_restart;
        uint64_t shared, unshared, value_size = 0;
        if (!varint64(p, limit, shared) || !varint64(p, limit, unshared)) return false;
        if (values_have_length && !varint64(p, limit, value_size)) return false;
        if (shared > key.size() || unshared > uint64_t(limit - p)) return false;
        if (at_restart && shared != 0) return false;
        key.resize(shared);
        key.append(reinterpret_cast<const char *>(p), unshared);
        p += unshared;
        const unsigned char *value_end = limit;
        if (values_have_length) {
            if (value_size > uint64_t(limit - p)) return false;
            value_end = p + value_size;
        }
        const unsigned char *value = p;
        if (!each(key, value, value_end, at_restart)) return false;
        p = values_have_length ? value_end : value;
        if (p > limit) return false;
    }
    return true;
}

// The handle of `name` in a metaindex block.
inline bool find_in_metaindex(const std::string &block, const std::string &name, Handle &out) {
    bool found = false;
    for_each_entry(reinterpret_cast<const unsigned char *>(block.data()), block.size(), true,
                   [&](const std::string &key, const unsigned char *&value, const unsigned char *end, bool) {
                       if (key != name) return true;
                       found = varint64(value, end, out.offset) && varint64(value, end, out.size);
                       return false;
                   });
    return found;
}

}  // namespace sst_format

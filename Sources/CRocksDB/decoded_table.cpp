#include "decoded_table.h"

#include "sst_format.h"

#include <lz4.h>
#include <snappy-c.h>
#include <zstd.h>

#include <algorithm>

using namespace sst_format;

namespace decoded_table {
namespace {

// A block decompressed may hold at most this much, and a table all its blocks together: a
// block's claimed size comes from the file.
constexpr size_t kMaxBlockBytes = 16 << 20;
constexpr size_t kMaxTableBytes = 64 << 20;

// CompressionType (rocksdb/compression_type.h).
enum : unsigned char { kNone = 0, kSnappy = 1, kLZ4 = 4, kLZ4HC = 5, kZSTD = 7, kZSTDNotFinal = 0x40 };

class Decoder {
  public:
    Decoder(const unsigned char *data, size_t size) : data_(data), size_(size) {}

    std::unique_ptr<Table> decode() {
        if (size_ < kFooterSize || size_ > kMaxFileBytes) return nullptr;
        Footer footer;
        // format_version 2 and later put the decompressed size before an LZ4 or zstd block.
        if (parse_footer(data_ + size_ - kFooterSize, footer) != FooterFault::none || footer.format_version < 2 || footer.format_version > 5)
            return nullptr;
        checksum_ = footer.checksum_type;
        std::string meta, block;
        if (!read(footer.metaindex, meta) || !read_meta(meta)) return nullptr;
        if (!read(footer.index, block)) return nullptr;
        std::vector<Handle> data_blocks;
        if (!read_index(block, data_blocks)) return nullptr;
        table_ = std::make_unique<Table>();
        for (Handle h : data_blocks) {
            if (!read(h, block) || !read_data(block)) return nullptr;
        }
        if (table_->entries.size() != num_entries_) return nullptr;
        table_->raw_key_size = raw_key_size_;
        table_->raw_value_size = raw_value_size_;
        return std::move(table_);
    }

  private:
    const unsigned char *data_;
    size_t size_;
    int checksum_ = 0;
    bool delta_encoded_index_ = false;
    uint64_t num_entries_ = 0, raw_key_size_ = 0, raw_value_size_ = 0;
    size_t decompressed_ = 0;
    std::unique_ptr<Table> table_;

    // A block, its checksum verified, decompressed into `out`.
    bool read(Handle h, std::string &out) {
        if (!inside(h, size_) || h.size > kMaxBlockBytes) return false;
        const unsigned char *block = data_ + h.offset;
        if (fixed32(block + h.size + 1) != block_checksum(block, h.size, checksum_)) return false;
        const char *in = reinterpret_cast<const char *>(block);
        size_t n = h.size, length = 0;
        switch (block[h.size]) {
        case kNone:
            out.assign(in, n);
            return true;
        case kSnappy:
            if (snappy_uncompressed_length(in, n, &length) != SNAPPY_OK || !room(length)) return false;
            out.resize(length);
            return snappy_uncompress(in, n, &out[0], &length) == SNAPPY_OK && length == out.size();
        case kLZ4:
        case kLZ4HC:
            if (!sized(block, n, length)) return false;
            out.resize(length);
            return LZ4_decompress_safe(reinterpret_cast<const char *>(block) + (h.size - n), &out[0], int(n), int(length)) == int(length);
        case kZSTD:
        case kZSTDNotFinal:
            if (!sized(block, n, length)) return false;
            out.resize(length);
            return ZSTD_decompress(&out[0], length, reinterpret_cast<const char *>(block) + (h.size - n), n) == length;
        default:
            return false;
        }
    }

    // Reads the decompressed size that starts an LZ4 or zstd block; `n` becomes what follows it.
    bool sized(const unsigned char *block, size_t &n, size_t &length) {
        const unsigned char *p = block, *end = block + n;
        uint64_t claimed;
        if (!varint64(p, end, claimed) || claimed > kMaxBlockBytes || !room(size_t(claimed))) return false;
        n = size_t(end - p);
        length = size_t(claimed);
        return n <= uint64_t(INT32_MAX) && length > 0;
    }

    bool room(size_t length) {
        if (length > kMaxBlockBytes || decompressed_ + length > kMaxTableBytes) return false;
        decompressed_ += length;
        return true;
    }

    // The metaindex names the properties and perhaps a full filter: anything else (range
    // deletions, a dictionary, a hash index, filter partitions) is left to RocksDB. Every block
    // it names is checked as RocksDB's VerifyChecksum would.
    bool read_meta(const std::string &meta) {
        bool has_properties = false, ok = true;
        std::string block;
        bool walked = for_each_entry(
            reinterpret_cast<const unsigned char *>(meta.data()), meta.size(), true,
            [&](const std::string &name, const unsigned char *&value, const unsigned char *end, bool) {
                Handle h;
                ok = varint64(value, end, h.offset) && varint64(value, end, h.size) && read(h, block);
                if (!ok) return false;
                if (name == "rocksdb.properties") {
                    has_properties = true;
                    ok = read_properties(block);
                } else if (name.compare(0, 11, "fullfilter.") != 0) {
                    ok = false;
                }
                return ok;
            });
        return walked && ok && has_properties;
    }

    bool read_properties(const std::string &block) {
        bool binary_search_index = false;
        bool ok = for_each_entry(
            reinterpret_cast<const unsigned char *>(block.data()), block.size(), true,
            [&](const std::string &name, const unsigned char *&value, const unsigned char *end, bool) {
                uint64_t n = 0;
                auto number = [&](uint64_t &out) { return varint64(value, end, out); };
                if (name == "rocksdb.num.entries") return number(num_entries_);
                if (name == "rocksdb.raw.key.size") return number(raw_key_size_);
                if (name == "rocksdb.raw.value.size") return number(raw_value_size_);
                if (name == "rocksdb.index.value.is.delta.encoded") {
                    if (!number(n)) return false;
                    delta_encoded_index_ = n != 0;
                    return true;
                }
                if (name == "rocksdb.num.range-deletions") return number(n) && n == 0;
                if (name == "rocksdb.block.based.table.index.type") {
                    binary_search_index = end - value == 4 && fixed32(value) == 0;
                    return binary_search_index;
                }
                if (name == "rocksdb.comparator") return std::string(reinterpret_cast<const char *>(value), end - value) == "leveldb.BytewiseComparator";
                return true;
            });
        return ok && binary_search_index;
    }

    // The data blocks' handles, in order. An index of format_version 4 and later stores a full
    // handle at each restart and, between, the size's change (zigzag) with the offset implied.
    bool read_index(const std::string &block, std::vector<Handle> &out) {
        return for_each_entry(
            reinterpret_cast<const unsigned char *>(block.data()), block.size(), !delta_encoded_index_,
            [&](const std::string &, const unsigned char *&value, const unsigned char *end, bool at_restart) {
                Handle h;
                if (!delta_encoded_index_ || at_restart) {
                    if (!varint64(value, end, h.offset) || !varint64(value, end, h.size)) return false;
                } else {
                    uint64_t zigzag;
                    if (out.empty() || !varint64(value, end, zigzag)) return false;
                    int64_t delta = int64_t(zigzag >> 1) ^ -int64_t(zigzag & 1);
                    const Handle &previous = out.back();
                    h.offset = previous.offset + previous.size + kTrailerSize;
                    h.size = uint64_t(int64_t(previous.size) + delta);
                }
                if (!out.empty() && h.offset < out.back().offset + out.back().size + kTrailerSize) return false;
                out.push_back(h);
                return true;
            });
    }

    // A data block's entries: internal keys, each a put (type 1), after the last key read.
    bool read_data(const std::string &block) {
        Table &t = *table_;
        return for_each_entry(
            reinterpret_cast<const unsigned char *>(block.data()), block.size(), true,
            [&](const std::string &key, const unsigned char *&value, const unsigned char *end, bool) {
                if (key.size() < 8 || static_cast<unsigned char>(key[key.size() - 8]) != 1) return false;  // kTypeValue
                size_t user_size = key.size() - 8;
                if (!t.entries.empty()) {
                    const Table::Entry &last = t.entries.back();
                    size_t common = std::min<size_t>(last.key_size, user_size);
                    int order = std::memcmp(t.bytes.data() + last.key, key.data(), common);
                    if (order > 0 || (order == 0 && last.key_size >= user_size)) return false;
                }
                Table::Entry e;
                e.key = uint32_t(t.bytes.size());
                e.key_size = uint32_t(user_size);
                t.bytes.append(key.data(), user_size);
                e.value = uint32_t(t.bytes.size());
                e.value_size = uint32_t(end - value);
                t.bytes.append(reinterpret_cast<const char *>(value), end - value);
                t.entries.push_back(e);
                return t.bytes.size() <= kMaxTableBytes;
            });
    }
};

class TableIterator : public rocksdb::Iterator {
  public:
    explicit TableIterator(const Table &table) : table_(table), at_(table.entries.size()) {}

    bool Valid() const override { return at_ < table_.entries.size(); }
    void SeekToFirst() override { at_ = 0; }
    void SeekToLast() override { at_ = table_.entries.empty() ? 0 : table_.entries.size() - 1; }
    void Seek(const rocksdb::Slice &target) override {
        auto found = std::lower_bound(table_.entries.begin(), table_.entries.end(), target,
                                      [&](const Table::Entry &e, const rocksdb::Slice &t) { return slice(e.key, e.key_size).compare(t) < 0; });
        at_ = size_t(found - table_.entries.begin());
    }
    void SeekForPrev(const rocksdb::Slice &target) override {
        auto found = std::upper_bound(table_.entries.begin(), table_.entries.end(), target,
                                      [&](const rocksdb::Slice &t, const Table::Entry &e) { return t.compare(slice(e.key, e.key_size)) < 0; });
        at_ = found == table_.entries.begin() ? table_.entries.size() : size_t(found - table_.entries.begin()) - 1;
    }
    void Next() override { ++at_; }
    void Prev() override { at_ = at_ == 0 ? table_.entries.size() : at_ - 1; }
    rocksdb::Slice key() const override { return slice(table_.entries[at_].key, table_.entries[at_].key_size); }
    rocksdb::Slice value() const override { return slice(table_.entries[at_].value, table_.entries[at_].value_size); }
    rocksdb::Status status() const override { return rocksdb::Status::OK(); }

  private:
    const Table &table_;
    size_t at_;

    rocksdb::Slice slice(uint32_t offset, uint32_t size) const { return rocksdb::Slice(table_.bytes.data() + offset, size); }
};

}  // namespace

std::unique_ptr<Table> decode(const unsigned char *data, size_t size) { return Decoder(data, size).decode(); }

rocksdb::Iterator *new_iterator(const Table &table) { return new TableIterator(table); }

}  // namespace decoded_table

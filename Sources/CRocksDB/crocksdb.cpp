#include "crocksdb.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <rocksdb/write_batch.h>

#include "decoded_table.h"
#include "sst_format.h"
#include <lzma.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace rocksdb;

namespace {

bool fail(const Status &s, char **err) {
    if (s.ok()) return false;
    if (err) *err = strdup(s.ToString().c_str());
    return true;
}

void fail_message(const char *message, char **err) {
    if (err) *err = strdup(message);
}

// A table written over a reused inode (`SpareInodes` renames one that RocksDB let go of to the
// writer's path): its blocks are written over, not freed by the truncation of an open with
// O_TRUNC. On ext4 without a journal, mounted with `discard`, every free of blocks issues a
// discard and waits for the device (ext4_free_blocks, fs/ext4/mballoc.c), once per reused file;
// and blocks written over need no allocation when written back. What lies past the bytes written
// is cut before any sync (a synced table never ends in an old tail) and at close.
class OverwrittenFile final : public FSWritableFile {
    std::string name_;
    int fd_;
    uint64_t written_ = 0;
    uint64_t size_;  // the file's size on disk: the old table's until it is cut

    // As RocksDB's own POSIX files say it (env/io_posix.h IOError): the file, then errno's text.
    IOStatus error(const char *context, int err) const {
        std::string message = std::string(context) + " " + name_;
        return err == ENOSPC ? IOStatus::NoSpace(message, strerror(err)) : IOStatus::IOError(message, strerror(err));
    }
    IOStatus cut() {
        if (size_ <= written_) return IOStatus::OK();
        if (ftruncate(fd_, off_t(written_)) != 0) return error("While truncating", errno);
        size_ = written_;
        return IOStatus::OK();
    }

  public:
    OverwrittenFile(std::string name, int fd, uint64_t size) : name_(std::move(name)), fd_(fd), size_(size) {}
    ~OverwrittenFile() override {
        if (fd_ >= 0) Close(IOOptions(), nullptr);
    }

    IOStatus Append(const Slice &data, const IOOptions &, IODebugContext *) override {
        const char *p = data.data();
        size_t left = data.size();
        while (left > 0) {
            ssize_t n = write(fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                return error("While appending to", errno);
            }
            p += n;
            left -= size_t(n);
            written_ += uint64_t(n);
        }
        size_ = std::max(size_, written_);
        return IOStatus::OK();
    }
    IOStatus Flush(const IOOptions &, IODebugContext *) override { return IOStatus::OK(); }
    IOStatus Sync(const IOOptions &, IODebugContext *) override {
        IOStatus s = cut();
        if (s.ok() && fdatasync(fd_) != 0) return error("While fdatasync", errno);
        return s;
    }
    IOStatus Fsync(const IOOptions &, IODebugContext *) override {
        IOStatus s = cut();
        if (s.ok() && fsync(fd_) != 0) return error("While fsync", errno);
        return s;
    }
    IOStatus Close(const IOOptions &, IODebugContext *) override {
        IOStatus s = cut();
        if (close(fd_) != 0 && s.ok()) s = error("While closing", errno);
        fd_ = -1;
        return s;
    }
    uint64_t GetFileSize(const IOOptions &, IODebugContext *) override { return written_; }
    IOStatus InvalidateCache(size_t offset, size_t length) override {
        int err = posix_fadvise(fd_, off_t(offset), off_t(length), POSIX_FADV_DONTNEED);
        return err == 0 ? IOStatus::OK() : error("While fadvise NotNeeded", err);
    }
};

// An SstFileWriter drops the pages of the table it writes from the page cache (every MiB, and at
// Finish), so that a large rewrite does not fill memory with pages written once. A small table is
// read back within milliseconds (the ingest opens it, and compaction merges it soon after): its
// pages dropped at Finish were read from the disk again each time. A writable file of this file
// system keeps its pages while it is under `kKeptBytes`; a file that is there already, with no
// other name, is written over (`OverwrittenFile`).
class SmallTablesStayCached : public FileSystemWrapper {
    static constexpr uint64_t kKeptBytes = 8 << 20;

    class File : public FSWritableFileOwnerWrapper {
      public:
        using FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;
        IOStatus InvalidateCache(size_t offset, size_t length) override {
            if (target()->GetFileSize(IOOptions(), nullptr) < kKeptBytes) return IOStatus::OK();
            return target()->InvalidateCache(offset, length);
        }
    };

  public:
    using FileSystemWrapper::FileSystemWrapper;
    const char *Name() const override { return "SmallTablesStayCached"; }
    IOStatus NewWritableFile(const std::string &name, const FileOptions &options, std::unique_ptr<FSWritableFile> *result,
                             IODebugContext *dbg) override {
        int fd = open(name.c_str(), O_WRONLY | O_CLOEXEC);
        struct stat info;
        if (fd >= 0) {
            if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_nlink == 1 && info.st_size > 0) {
                *result = std::make_unique<File>(std::make_unique<OverwrittenFile>(name, fd, uint64_t(info.st_size)));
                return IOStatus::OK();
            }
            close(fd);
        }
        IOStatus s = FileSystemWrapper::NewWritableFile(name, options, result, dbg);
        if (s.ok()) *result = std::make_unique<File>(std::move(*result));
        return s;
    }
};

// Built once: each Options and table factory allocates a block cache of its own, which cost more
// than opening an 8 KiB SST.
const Options &sst_options() {
    static const Options options = [] {
        Options built;
        BlockBasedTableOptions table;
        table.block_size = 32 * 1024;
        built.table_factory.reset(NewBlockBasedTableFactory(table));
        // Never destroyed: writers may still be open when the process exits.
        built.env = NewCompositeEnv(std::make_shared<SmallTablesStayCached>(FileSystem::Default())).release();
        return built;
    }();
    return options;
}

const char *const kColumnFamilies[CRDB_CF_COUNT] = {"default", "write", "lock"};

// A store ingests only tables that an SstFileWriter wrote and synced at Finish (the rewrite's and
// the snapshot's, and the apply records): a Download answers once its file is on disk, as TiKV's
// does. RocksDB's ingest reopens each linked table to sync it again
// (ExternalSstFileIngestionJob::Prepare, rocksdb db/external_sst_file_ingestion_job.cc), which on
// ext4 flushes the device once more per file. A file system that cannot reopen a file for writing
// needs no such sync, and Prepare skips it on NotSupported; this one declines for table files
// only. The DB directory is still synced after the links, and every other file as before.
class TablesSyncedWhenWritten : public FileSystemWrapper {
  public:
    using FileSystemWrapper::FileSystemWrapper;
    const char *Name() const override { return "TablesSyncedWhenWritten"; }
    IOStatus ReopenWritableFile(const std::string &name, const FileOptions &options,
                                std::unique_ptr<FSWritableFile> *result, IODebugContext *dbg) override {
        static const std::string table = ".sst";
        if (name.size() >= table.size() && name.compare(name.size() - table.size(), table.size(), table) == 0) {
            return IOStatus::NotSupported("a table is synced when it is written");
        }
        return FileSystemWrapper::ReopenWritableFile(name, options, result, dbg);
    }
};

// Never destroyed: stores may still be open when the process exits. Every store's DB runs its
// compactions in the default Env's one pool, which each DB sizes to its own limit (one compaction,
// with two background jobs): the stores of a process would merge their tables one at a time, on
// one core. Two threads let two stores compact side by side.
Env *store_env() {
    static Env *const env = [] {
        Env *built = NewCompositeEnv(std::make_shared<TablesSyncedWhenWritten>(FileSystem::Default())).release();
        built->IncBackgroundThreadsIfNeeded(2, Env::Priority::LOW);
        return built;
    }();
    return env;
}

}  // namespace

struct crdb_sst_writer {
    std::unique_ptr<SstFileWriter> writer;
    // The last key put: RocksDB keeps its own, but does not hand it out.
    std::string last_key;
    bool has_last = false;
};

struct crdb_sst_reader {
    // The in-memory file system of a reader opened over bytes; declared first so that it outlives
    // the reader.
    std::unique_ptr<Env> memory;
    std::unique_ptr<SstFileReader> reader;
    // A small table held in memory and decoded whole, read without RocksDB (nullptr: through
    // `reader`).
    std::unique_ptr<decoded_table::Table> decoded;
    // Readahead beyond the file's end would only allocate: a 2 MiB buffer per reader of an 8 KiB file.
    uint64_t file_size = 2 << 20;
};

struct crdb_iter {
    std::unique_ptr<Iterator> iter;
};

struct crdb_db {
    DB *db = nullptr;
    std::vector<ColumnFamilyHandle *> handles;
};

// Column families are resolved when the batch is written, because a batch is built before it meets a DB.
struct crdb_batch {
    struct Op {
        int cf;
        bool is_delete;
        std::string key, value;
    };
    std::vector<Op> ops;
};

extern "C" {

void crdb_free(void *p) { free(p); }

crdb_sst_writer *crdb_sst_writer_open(const char *path, char **err) {
    auto w = std::make_unique<crdb_sst_writer>();
    w->writer = std::make_unique<SstFileWriter>(EnvOptions(), sst_options());
    if (fail(w->writer->Open(path), err)) return nullptr;
    return w.release();
}

crdb_sst_writer *crdb_sst_writer_open_with(const char *path, int format_version, int checksum, int compression, size_t block_size,
                                           char **err) {
    Options options = sst_options();
    BlockBasedTableOptions table;
    table.format_version = uint32_t(format_version);
    table.checksum = static_cast<ChecksumType>(checksum);
    table.block_size = block_size;
    options.table_factory.reset(NewBlockBasedTableFactory(table));
    options.compression = static_cast<CompressionType>(compression);
    auto w = std::make_unique<crdb_sst_writer>();
    w->writer = std::make_unique<SstFileWriter>(EnvOptions(), options);
    if (fail(w->writer->Open(path), err)) return nullptr;
    return w.release();
}

int crdb_sst_writer_put(crdb_sst_writer *w, const void *key, size_t key_len, const void *value, size_t value_len,
                        char **err) {
    Slice k(static_cast<const char *>(key), key_len), v(static_cast<const char *>(value), value_len);
    if (w->has_last && k.compare(Slice(w->last_key)) <= 0) return 2;
    if (fail(w->writer->Put(k, v), err)) return 0;
    w->last_key.assign(k.data(), k.size());
    w->has_last = true;
    return 1;
}

const char *crdb_sst_writer_last_key(crdb_sst_writer *w, size_t *len) {
    *len = w->last_key.size();
    return w->has_last ? w->last_key.data() : nullptr;
}

uint64_t crdb_sst_writer_file_size(crdb_sst_writer *w) { return w->writer->FileSize(); }

int crdb_sst_writer_finish(crdb_sst_writer *w, uint64_t *file_size, char **err) {
    ExternalSstFileInfo info;
    if (fail(w->writer->Finish(&info), err)) return 0;
    if (file_size) *file_size = info.file_size;
    return 1;
}

void crdb_sst_writer_destroy(crdb_sst_writer *w) { delete w; }

// RocksDB verifies a block's checksum before it parses the block, except for the properties
// block (ingestion may rewrite a field in it), and Debian's librocksdb keeps its assertions: a
// malformed properties block aborts the process. So before RocksDB opens a file, this checks the
// footer and the checksums of the metaindex and properties blocks itself (block-based tables,
// format_version 1 to 5, crc32c or XXH3 checksums). Anything else is refused as corrupt.
namespace sst_guard {

using namespace sst_format;

// `path` names the file in messages; `size` is its length.
static Status check(const char *path, uint64_t size, const ReadAt &read) {
    if (size < kFooterSize) return Status::Corruption(path, "too short for an SST file");
    unsigned char bytes[kFooterSize];
    if (!read(size - kFooterSize, kFooterSize, reinterpret_cast<char *>(bytes))) return Status::IOError(path, "cannot read the footer");
    Footer footer;
    FooterFault fault = parse_footer(bytes, footer);
    // parse_footer reads the format_version before anything it may refuse but the magic number.
    if (fault == FooterFault::not_block_based || footer.format_version < 1 || footer.format_version > 5)
        return Status::Corruption(path, "not a block-based table of format 1 to 5");
    if (fault == FooterFault::unknown_checksum) return Status::Corruption(path, "block checksums are neither crc32c nor XXH3");
    if (fault == FooterFault::bad_handles) return Status::Corruption(path, "bad footer");
    // Neither handle is covered by a checksum: both must lie inside the file (a huge index size
    // would have RocksDB try to allocate it, and abort).
    for (Handle h : {footer.metaindex, footer.index}) {
        if (!inside(h, size)) return Status::Corruption(path, "a block handle in the footer points outside the file");
    }
    std::string block;
    if (!read_verified(read, size, footer.metaindex, footer.checksum_type, block)) return Status::Corruption(path, "the metaindex block fails its checksum");
    Handle properties;
    if (!find_in_metaindex(block, "rocksdb.properties", properties)) return Status::Corruption(path, "no properties block");
    if (!read_verified(read, size, properties, footer.checksum_type, block)) return Status::Corruption(path, "the properties block fails its checksum");
    return Status::OK();
}

// Also says the file's size, which the check reads anyway.
static Status check(const char *path, uint64_t &size) {
    std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path, "rb"), &std::fclose);
    if (!f) return Status::IOError(path, std::strerror(errno));
    if (std::fseek(f.get(), 0, SEEK_END) != 0) return Status::IOError(path, std::strerror(errno));
    long end = std::ftell(f.get());
    if (end < 0) return Status::IOError(path, std::strerror(errno));
    size = uint64_t(end);
    return check(path, uint64_t(end), [&](uint64_t offset, size_t n, char *out) {
        return std::fseek(f.get(), static_cast<long>(offset), SEEK_SET) == 0 && std::fread(out, 1, n, f.get()) == n;
    });
}

static Status check(const void *data, size_t len) {
    return check("(in memory)", len, [&](uint64_t offset, size_t n, char *out) {
        if (offset > len || n > len - offset) return false;
        std::memcpy(out, static_cast<const char *>(data) + offset, n);
        return true;
    });
}

}  // namespace sst_guard

crdb_sst_reader *crdb_sst_reader_open(const char *path, char **err) {
    auto r = std::make_unique<crdb_sst_reader>();
    if (fail(sst_guard::check(path, r->file_size), err)) return nullptr;
    r->reader = std::make_unique<SstFileReader>(sst_options());
    if (fail(r->reader->Open(path), err)) return nullptr;
    return r.release();
}

crdb_sst_reader *crdb_sst_reader_open_memory(const void *data, size_t len, char **err) {
    if (auto table = decoded_table::decode(static_cast<const unsigned char *>(data), len)) {
        auto r = std::make_unique<crdb_sst_reader>();
        r->decoded = std::move(table);
        return r.release();
    }
    if (fail(sst_guard::check(data, len), err)) return nullptr;
    auto r = std::make_unique<crdb_sst_reader>();
    r->file_size = len;
    r->memory.reset(NewMemEnv(Env::Default()));
    const std::string name = "/sst";
    {
        std::unique_ptr<WritableFile> file;
        if (fail(r->memory->NewWritableFile(name, &file, EnvOptions()), err)) return nullptr;
        if (fail(file->Append(Slice(static_cast<const char *>(data), len)), err)) return nullptr;
        if (fail(file->Close(), err)) return nullptr;
    }
    Options options = sst_options();
    options.env = r->memory.get();
    r->reader = std::make_unique<SstFileReader>(options);
    if (fail(r->reader->Open(name), err)) return nullptr;
    return r.release();
}

int crdb_sst_reader_is_decoded(crdb_sst_reader *r) { return r->decoded ? 1 : 0; }

// A decoded table had every block's checksum verified when it was decoded.
int crdb_sst_reader_verify_checksums(crdb_sst_reader *r, char **err) {
    if (r->decoded) return 1;
    return fail(r->reader->VerifyChecksum(), err) ? 0 : 1;
}

uint64_t crdb_sst_reader_num_entries(crdb_sst_reader *r) {
    if (r->decoded) return r->decoded->entries.size();
    auto props = r->reader->GetTableProperties();
    return props ? props->num_entries : 0;
}

uint64_t crdb_sst_reader_data_size(crdb_sst_reader *r) {
    if (r->decoded) return r->decoded->raw_key_size + r->decoded->raw_value_size;
    auto props = r->reader->GetTableProperties();
    return props ? props->raw_key_size + props->raw_value_size : 0;
}

crdb_iter *crdb_sst_reader_iter(crdb_sst_reader *r) {
    if (r->decoded) {
        auto it = new crdb_iter;
        it->iter.reset(decoded_table::new_iterator(*r->decoded));
        return it;
    }
    ReadOptions options;
    options.verify_checksums = true;
    options.fill_cache = false;
    options.readahead_size = std::min<uint64_t>(2 << 20, r->file_size);
    auto it = new crdb_iter;
    it->iter.reset(r->reader->NewIterator(options));
    return it;
}

void crdb_sst_reader_destroy(crdb_sst_reader *r) { delete r; }

// An iterator over a table read once from start to end: block checksums verified, nothing cached.
static std::unique_ptr<Iterator> read_once(SstFileReader &reader) {
    ReadOptions read;
    read.verify_checksums = true;
    read.fill_cache = false;
    read.readahead_size = 2 << 20;
    return std::unique_ptr<Iterator>(reader.NewIterator(read));
}

int64_t crdb_copy_sst(const char *source, const char *destination, char **err) {
    SstFileReader reader(sst_options());
    if (fail(reader.Open(source), err)) return -1;
    std::unique_ptr<Iterator> it = read_once(reader);
    SstFileWriter writer(EnvOptions(), sst_options());
    if (fail(writer.Open(destination), err)) return -1;
    int64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
        if (fail(writer.Put(it->key(), it->value()), err)) return -1;
    }
    if (fail(it->status(), err) || fail(writer.Finish(), err)) return -1;
    return n;
}

int64_t crdb_sst_crc64xor(const char *path, uint64_t *crc64xor, char **err) {
    SstFileReader reader(sst_options());
    if (fail(reader.Open(path), err)) return -1;
    std::unique_ptr<Iterator> it = read_once(reader);
    uint64_t sum = 0;
    int64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
        Slice k = it->key(), v = it->value();
        uint64_t crc = lzma_crc64(reinterpret_cast<const uint8_t *>(k.data()), k.size(), 0);
        sum ^= lzma_crc64(reinterpret_cast<const uint8_t *>(v.data()), v.size(), crc);
    }
    if (fail(it->status(), err)) return -1;
    *crc64xor = sum;
    return n;
}

void crdb_iter_seek_to_first(crdb_iter *it) { it->iter->SeekToFirst(); }
void crdb_iter_seek_to_last(crdb_iter *it) { it->iter->SeekToLast(); }
void crdb_iter_seek(crdb_iter *it, const void *key, size_t key_len) {
    it->iter->Seek(Slice(static_cast<const char *>(key), key_len));
}
void crdb_iter_next(crdb_iter *it) { it->iter->Next(); }
void crdb_iter_prev(crdb_iter *it) { it->iter->Prev(); }
int crdb_iter_valid(crdb_iter *it) { return it->iter->Valid() ? 1 : 0; }

const char *crdb_iter_key(crdb_iter *it, size_t *len) {
    Slice k = it->iter->key();
    *len = k.size();
    return k.data();
}

const char *crdb_iter_value(crdb_iter *it, size_t *len) {
    Slice v = it->iter->value();
    *len = v.size();
    return v.data();
}

int crdb_iter_check(crdb_iter *it, char **err) { return fail(it->iter->status(), err) ? 0 : 1; }
void crdb_iter_destroy(crdb_iter *it) { delete it; }

// A read-only open must leave the directory as it was: RocksDB would otherwise create (and rotate)
// its info LOG there.
class SilentLogger : public Logger {
  public:
    using Logger::Logv;
    void Logv(const char *, va_list) override {}
};

crdb_db *crdb_db_open(const char *path, int max_open_files, int read_only, char **err) {
    DBOptions options;
    options.max_open_files = max_open_files;
    options.create_if_missing = !read_only;
    options.create_missing_column_families = !read_only;
    if (read_only) options.info_log = std::make_shared<SilentLogger>();
    options.max_background_jobs = 2;
    options.env = store_env();
    // No preallocation: RocksDB reserves a compaction output's whole target size (70 MiB) and a
    // log's, and cuts the rest at close; with thousands of merges of small tables, and on ext4
    // mounted with `discard` without a journal, each cut is a discard waited for
    // (ext4_free_blocks). Written tables get their blocks at writeback instead.
    options.allow_fallocate = false;
    // Memory must not grow with the data: the memtables of every store of the process share one
    // budget, and the index and filter blocks of their SSTs live in one shared block cache (by
    // default RocksDB holds each open file's index outside any cache, so it grows with the data).
    // Whichever store writes past the budget flushes its own largest memtable. Never destroyed,
    // as the cache below.
    static const auto *shared_memtables = new std::shared_ptr<WriteBufferManager>(std::make_shared<WriteBufferManager>(12 << 20));
    options.write_buffer_manager = *shared_memtables;
    // Never destroyed: a process that exits with stores still open (an interrupted console calls
    // exit) must not run the cache's destructor under their background threads.
    // 8 MiB: the ingests' overlap checks fill whatever room the index and filter blocks leave with
    // data blocks they never read again; those index and filter blocks are kept in the cache's
    // high-priority half.
    static const auto *shared_cache = new std::shared_ptr<Cache>(NewLRUCache(8 << 20));
    BlockBasedTableOptions table;
    table.block_cache = *shared_cache;
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    ColumnFamilyOptions cf_options;
    cf_options.write_buffer_size = 2 << 20;
    // As TiKV: no check of the whole LSM shape on every version edit. With tens of thousands of
    // ingested files the check costs more than the ingest itself.
    cf_options.force_consistency_checks = false;
    cf_options.table_factory.reset(NewBlockBasedTableFactory(table));
    std::vector<ColumnFamilyDescriptor> descriptors;
    for (const char *name : kColumnFamilies) descriptors.emplace_back(name, cf_options);
    auto db = std::make_unique<crdb_db>();
    Status status = read_only ? DB::OpenForReadOnly(options, path, descriptors, &db->handles, &db->db)
                              : DB::Open(options, path, descriptors, &db->handles, &db->db);
    if (fail(status, err)) return nullptr;
    return db.release();
}

void crdb_db_live_files(crdb_db *db, uint64_t *count, uint64_t *bytes) {
    std::vector<LiveFileMetaData> files;
    db->db->GetLiveFilesMetaData(&files);
    uint64_t total = 0;
    for (const auto &file : files) total += file.size;
    *count = files.size();
    *bytes = total;
}

void crdb_db_table_files(crdb_db *db, int cf, void *context, crdb_table_file_fn each) {
    std::vector<LiveFileMetaData> files;
    db->db->GetLiveFilesMetaData(&files);
    for (const auto &file : files) {
        if (file.column_family_name != kColumnFamilies[cf] || file.being_compacted) continue;
        each(context, file.smallestkey.data(), file.smallestkey.size(), file.largestkey.data(), file.largestkey.size(), file.size, file.file_number);
    }
}

int crdb_db_has_column_families(const char *path) {
    std::vector<std::string> names;
    if (!DB::ListColumnFamilies(DBOptions(), path, &names).ok()) return 0;
    for (const char *name : kColumnFamilies) {
        if (std::find(names.begin(), names.end(), name) == names.end()) return 0;
    }
    return 1;
}

void crdb_db_close(crdb_db *db) {
    if (!db) return;
    for (auto *h : db->handles) db->db->DestroyColumnFamilyHandle(h);
    db->db->Close();
    delete db->db;
    delete db;
}

static ColumnFamilyHandle *handle(crdb_db *db, int cf, char **err) {
    if (cf < 0 || cf >= CRDB_CF_COUNT) {
        fail_message("unknown column family", err);
        return nullptr;
    }
    return db->handles[cf];
}

int crdb_db_put(crdb_db *db, int cf, const void *key, size_t key_len, const void *value, size_t value_len, int sync,
                char **err) {
    auto *h = handle(db, cf, err);
    if (!h) return 0;
    WriteOptions options;
    options.sync = sync != 0;
    Slice k(static_cast<const char *>(key), key_len), v(static_cast<const char *>(value), value_len);
    return fail(db->db->Put(options, h, k, v), err) ? 0 : 1;
}

char *crdb_db_get(crdb_db *db, int cf, const void *key, size_t key_len, size_t *value_len, int *found, char **err) {
    *found = 0;
    auto *h = handle(db, cf, err);
    if (!h) return nullptr;
    std::string value;
    Status s = db->db->Get(ReadOptions(), h, Slice(static_cast<const char *>(key), key_len), &value);
    if (s.IsNotFound()) return nullptr;
    if (fail(s, err)) return nullptr;
    char *out = static_cast<char *>(malloc(value.size() ? value.size() : 1));
    memcpy(out, value.data(), value.size());
    *value_len = value.size();
    *found = 1;
    return out;
}

int crdb_db_ingest(crdb_db *db, const int *cfs, const char *const *paths, size_t count, int move, char **err) {
    IngestExternalFileOptions options;
    options.move_files = move != 0;
    options.failed_move_fall_back_to_copy = true;
    // No read of the whole table before it goes in, as in TiKV (components/engine_rocks/src/import.rs
    // leaves RocksDB's default, false): every table ingested here was written by this program from
    // blocks whose checksums were verified as they were read (the rewrite's cursor, or the full
    // VerifyChecksum of a table used as it is), and synced by SstFileWriter::Finish.
    options.verify_checksums_before_ingest = false;
    // An ingested file may share its inode with a name outside the DB (an import file, or a link
    // left by a crash between RocksDB's link and the caller's unlink): RocksDB must never write
    // into it. The global seqno lives in the MANIFEST only, as in TiKV.
    options.write_global_seqno = false;
    std::vector<IngestExternalFileArg> args;
    for (size_t i = 0; i < count; i++) {
        auto *h = handle(db, cfs[i], err);
        if (!h) return 0;
        auto arg = std::find_if(args.begin(), args.end(), [h](const IngestExternalFileArg &a) { return a.column_family == h; });
        if (arg == args.end()) {
            args.emplace_back();
            arg = args.end() - 1;
            arg->column_family = h;
            arg->options = options;
        }
        arg->external_files.emplace_back(paths[i]);
    }
    if (args.empty()) return 1;
    // One MANIFEST record for every column family: after a crash all of them are in, or none.
    return fail(db->db->IngestExternalFiles(args), err) ? 0 : 1;
}

crdb_iter *crdb_db_iter(crdb_db *db, int cf) {
    if (cf < 0 || cf >= CRDB_CF_COUNT) return nullptr;
    // Scans read once (the checksum reads every key): their data blocks would only push the
    // index and filter blocks, which every ingest and read needs, out of the shared cache.
    ReadOptions options;
    options.fill_cache = false;
    auto it = new crdb_iter;
    it->iter.reset(db->db->NewIterator(options, db->handles[cf]));
    return it;
}

int crdb_db_compact_range(crdb_db *db, int cf, const void *begin, size_t begin_len, const void *end, size_t end_len, char **err) {
    auto *h = handle(db, cf, err);
    if (!h) return 0;
    Slice b(static_cast<const char *>(begin), begin_len), e(static_cast<const char *>(end), end_len);
    CompactRangeOptions options;
    // Ingested files sit in the bottommost level, which RocksDB skips by default.
    options.bottommost_level_compaction = BottommostLevelCompaction::kForce;
    // Flushes and automatic compactions (of the Raft log's memtables) go on meanwhile.
    options.exclusive_manual_compaction = false;
    return fail(db->db->CompactRange(options, h, &b, &e), err) ? 0 : 1;
}

int crdb_db_flush(crdb_db *db, char **err) {
    return fail(db->db->Flush(FlushOptions(), db->handles), err) ? 0 : 1;
}

int crdb_db_delete_range(crdb_db *db, int cf, const void *begin, size_t begin_len, const void *end, size_t end_len, char **err) {
    auto *h = handle(db, cf, err);
    if (!h) return 0;
    Slice b(static_cast<const char *>(begin), begin_len), e(static_cast<const char *>(end), end_len);
    return fail(db->db->DeleteRange(WriteOptions(), h, b, e), err) ? 0 : 1;
}

crdb_batch *crdb_batch_create(void) { return new crdb_batch; }

void crdb_batch_put(crdb_batch *b, int cf, const void *key, size_t key_len, const void *value, size_t value_len) {
    b->ops.push_back({cf, false, std::string(static_cast<const char *>(key), key_len),
                      std::string(static_cast<const char *>(value), value_len)});
}

void crdb_batch_delete(crdb_batch *b, int cf, const void *key, size_t key_len) {
    b->ops.push_back({cf, true, std::string(static_cast<const char *>(key), key_len), std::string()});
}

int crdb_db_write(crdb_db *db, crdb_batch *b, int sync, char **err) {
    WriteBatch batch;
    for (const auto &op : b->ops) {
        auto *h = handle(db, op.cf, err);
        if (!h) return 0;
        Status s = op.is_delete ? batch.Delete(h, op.key) : batch.Put(h, op.key, op.value);
        if (fail(s, err)) return 0;
    }
    WriteOptions options;
    options.sync = sync != 0;
    return fail(db->db->Write(options, &batch), err) ? 0 : 1;
}

void crdb_batch_destroy(crdb_batch *b) { delete b; }

}  // extern "C"

// jemalloc's settings for the process (jemalloc reads this symbol when it starts; MALLOC_CONF
// still overrides it). Freed pages go back to the system within a second, on jemalloc's own
// threads, instead of ten seconds and only when some thread allocates: a restore of 115,809
// files peaked at 250 to 259 MiB with the defaults, holding the plan's freed pages while its
// downloads began, and at 217 to 223 MiB with these (Docs/BENCHMARKS.md, Stop 46).
extern "C" {
__attribute__((visibility("default"), used)) const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:true";
}

#ifndef RESTORE_CONSOLE_CROCKSDB_H
#define RESTORE_CONSOLE_CROCKSDB_H
// A small C interface over RocksDB's C++ SstFileWriter, SstFileReader and DB.
// Every function that can fail takes `char **err`: on failure it returns 0 or NULL and stores a
// malloc'd message there, which the caller frees with crdb_free.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crdb_sst_writer crdb_sst_writer;
typedef struct crdb_sst_reader crdb_sst_reader;
typedef struct crdb_iter crdb_iter;
typedef struct crdb_db crdb_db;
typedef struct crdb_batch crdb_batch;

void crdb_free(void *p);

// Column families of a store's DB, in this order.
enum { CRDB_CF_DEFAULT = 0, CRDB_CF_WRITE = 1, CRDB_CF_LOCK = 2, CRDB_CF_COUNT = 3 };

// SST writer: keys must be put in strictly increasing bytewise order.
crdb_sst_writer *crdb_sst_writer_open(const char *path, char **err);
// A writer with other table options, for tests of the readers: format_version, ChecksumType,
// CompressionType (rocksdb/table.h, rocksdb/compression_type.h) and the data block size.
crdb_sst_writer *crdb_sst_writer_open_with(const char *path, int format_version, int checksum, int compression, size_t block_size, char **err);
/// 1: written; 0: failed (err set); 2: the key is not after the last key put (nothing written).
int crdb_sst_writer_put(crdb_sst_writer *w, const void *key, size_t key_len, const void *value, size_t value_len, char **err);
/// The last key put, or NULL before the first; valid until the next put.
const char *crdb_sst_writer_last_key(crdb_sst_writer *w, size_t *len);
uint64_t crdb_sst_writer_file_size(crdb_sst_writer *w);
int crdb_sst_writer_finish(crdb_sst_writer *w, uint64_t *file_size, char **err);
void crdb_sst_writer_destroy(crdb_sst_writer *w);

// SST reader.
crdb_sst_reader *crdb_sst_reader_open(const char *path, char **err);
// A reader over an SST held in memory (the bytes are copied: the caller may free them). A small,
// plain table is decoded whole and read without RocksDB (crdb_sst_reader_is_decoded says so).
crdb_sst_reader *crdb_sst_reader_open_memory(const void *data, size_t len, char **err);
int crdb_sst_reader_is_decoded(crdb_sst_reader *r);
int crdb_sst_reader_verify_checksums(crdb_sst_reader *r, char **err);
uint64_t crdb_sst_reader_num_entries(crdb_sst_reader *r);
uint64_t crdb_sst_reader_data_size(crdb_sst_reader *r);
crdb_iter *crdb_sst_reader_iter(crdb_sst_reader *r);
void crdb_sst_reader_destroy(crdb_sst_reader *r);

// Copies an SST entry by entry through SstFileReader and SstFileWriter, with no other work: the
// baseline that the rewrite benchmark compares against. Returns the entries copied, or -1.
int64_t crdb_copy_sst(const char *source, const char *destination, char **err);

// Reads an SST entry by entry (block checksums verified) and sums crc64-xor over its pairs, each
// pair's CRC-64 over its key then its value, as TiKV's checksum does a pair: the least work of
// reading data back to check it, for the benchmarks' floor. Returns the entries read, or -1.
int64_t crdb_sst_crc64xor(const char *path, uint64_t *crc64xor, char **err);

// Iterators, from a reader or a DB. key/value pointers stay valid until the next move.
void crdb_iter_seek_to_first(crdb_iter *it);
void crdb_iter_seek_to_last(crdb_iter *it);
void crdb_iter_seek(crdb_iter *it, const void *key, size_t key_len);
void crdb_iter_next(crdb_iter *it);
void crdb_iter_prev(crdb_iter *it);
int crdb_iter_valid(crdb_iter *it);
const char *crdb_iter_key(crdb_iter *it, size_t *len);
const char *crdb_iter_value(crdb_iter *it, size_t *len);
int crdb_iter_check(crdb_iter *it, char **err);
void crdb_iter_destroy(crdb_iter *it);

// A DB with column families default, write and lock, created when missing.
// max_open_files bounds the table cache: the DB keeps at most that many SST files open, whatever
// the number of files it holds.
crdb_db *crdb_db_open(const char *path, int max_open_files, int read_only, char **err);
/* 1 when the DB at path has every column family of ours: a creation that was cut short has fewer. */
int crdb_db_has_column_families(const char *path);
/* The SST files of every column family, and their bytes. */
void crdb_db_live_files(crdb_db *db, uint64_t *count, uint64_t *bytes);
/// Calls `each` with the smallest and largest user key, the size and the file number of every
/// table of `cf` that no compaction holds.
typedef void (*crdb_table_file_fn)(void *context, const char *smallest, size_t smallest_len,
                                   const char *largest, size_t largest_len, uint64_t size, uint64_t number);
void crdb_db_table_files(crdb_db *db, int cf, void *context, crdb_table_file_fn each);
void crdb_db_close(crdb_db *db);
int crdb_db_put(crdb_db *db, int cf, const void *key, size_t key_len, const void *value, size_t value_len, int sync, char **err);
// Returns a malloc'd copy of the value, or NULL with *found = 0 when the key is absent.
char *crdb_db_get(crdb_db *db, int cf, const void *key, size_t key_len, size_t *value_len, int *found, char **err);
// Ingests SST files, paths[i] into column family cfs[i], atomically: after a crash every file is
// in the DB or none is. With move = 1 the files are linked (moved), not copied. RocksDB never
// writes into an ingested file (no global seqno is written into it).
int crdb_db_ingest(crdb_db *db, const int *cfs, const char *const *paths, size_t count, int move, char **err);
crdb_iter *crdb_db_iter(crdb_db *db, int cf);
// Compacts the keys of one column family in [begin, end) into as few files as they need.
int crdb_db_compact_range(crdb_db *db, int cf, const void *begin, size_t begin_len, const void *end, size_t end_len, char **err);
int crdb_db_flush(crdb_db *db, char **err);
// Deletes every key in [begin, end) of one column family.
int crdb_db_delete_range(crdb_db *db, int cf, const void *begin, size_t begin_len, const void *end, size_t end_len, char **err);

// Write batches: applied atomically across column families.
crdb_batch *crdb_batch_create(void);
void crdb_batch_put(crdb_batch *b, int cf, const void *key, size_t key_len, const void *value, size_t value_len);
void crdb_batch_delete(crdb_batch *b, int cf, const void *key, size_t key_len);
int crdb_db_write(crdb_db *db, crdb_batch *b, int sync, char **err);
void crdb_batch_destroy(crdb_batch *b);

#ifdef __cplusplus
}
#endif
#endif

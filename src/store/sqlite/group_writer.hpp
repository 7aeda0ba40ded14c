// Group commit on SQLite (issue 14): every turn writes two messages, each an update of its
// conversation and an insert, and settles its budget; a commit per write cost most of the write
// (the WAL frames written, the commit itself, a pool thread woken). Writes that arrive while one
// transaction is being written wait for the next, and go in together: one transaction, one
// commit, each write in its own savepoint, so that one refused (a message's conversation deleted,
// its id taken) is refused alone. Internal to store/.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "async/blocking_pool.hpp"
#include "common/error.hpp"
#include "store/models.hpp"
#include "store/sqlite/connection.hpp"

namespace parley::store::sqlite {

class GroupWriter {
public:
    GroupWriter(ConnectionPool& connections, async::BlockingPool& pool);
    ~GroupWriter();
    GroupWriter(const GroupWriter&) = delete;
    GroupWriter& operator=(const GroupWriter&) = delete;

    // Where a stored message went: its seq, and the message deletions and updates counted in
    // the transaction that wrote it (migration 0009's epoch), which is what a reader's snapshot
    // that finds the row counts too (what TreeShapes remembers a row under).
    struct Placed {
        std::int64_t seq = 0;
        std::int64_t epoch = -1;
    };

    // Stores `m` (and makes it its conversation's active leaf, its time the conversation's
    // updated_at) once it is committed; fills `placed`, when given, once it is. Errors:
    // not_found when the conversation is not there, conflict when the id is taken, overloaded
    // when the database is busy or unavailable (then nothing of the batch is stored). `m` and
    // `placed` must live until this returns.
    boost::asio::awaitable<Result<void>> insert(const Message& m, Placed* placed = nullptr);

    // Runs `fn(Connection&) -> Result<void>` in the next batch's transaction, on the pool, and
    // returns once that is committed: its result, or the batch's failure. `fn` refuses by
    // throwing a constraint failure (its changes are undone, the batch's others kept) or by
    // returning an error, which it may do only before it has written anything (alone in its
    // batch it has no savepoint to undo them); any other SQLite failure it throws fails the whole
    // batch. `fn` must live until this returns.
    template <class F>
    boost::asio::awaitable<Result<void>> write(const F& fn) {
        return submit(Job{
            [](Connection& c, const void* f) -> Result<void> {
                return (*static_cast<const F*>(f))(c);
            },
            &fn});
    }

    // The transactions written so far (for tests and figures).
    std::size_t batches() const noexcept { return batches_.load(); }

    // For tests: `hook` runs on the pool just before a full-text batch is indexed, once the
    // group's other writers have been resumed and while its answer's waiter still waits. Set it
    // before any write.
    void on_full_text_batch(std::function<void()> hook) { before_index_ = std::move(hook); }

private:
    struct Pending;
    struct Queue;

    // One write of a batch: run(connection, arg). `indexes`: its waiter may also wait for a
    // full-text batch (index_batch_due), which then runs after the group's commit, in its own
    // transaction, before this waiter resumes and after the others have. An answer's insert
    // indexes; a user's message does not, as its answer waits for it (issue 14: a batch is ~1.5M
    // instructions, the first token's time at concurrency 1 took it in).
    struct Job {
        Result<void> (*run)(Connection&, const void*);
        const void* arg;
        bool indexes = false;
    };

    boost::asio::awaitable<Result<void>> submit(Job job);

    // One write of a batch of several, in a savepoint of its own.
    static Result<void> run_one(Connection& c, const Job& job);

    // On the pool: writes batches until none waits.
    void write();

    // On the pool, in a transaction of its own: the full-text batch a group made due.
    void index_batch();

    ConnectionPool& connections_;
    async::BlockingPool& pool_;
    std::unique_ptr<Queue> queue_;
    std::function<void()> before_index_;
    std::atomic<std::size_t> batches_{0};
};

}  // namespace parley::store::sqlite

// Group commit for message inserts on SQLite (issue 14): every turn writes two messages, each an
// update of its conversation and an insert, and a commit per message cost most of an insert
// (the WAL frames written, the commit itself, a pool thread woken). Inserts that arrive while one
// transaction is being written wait for the next, and go in together: one transaction, one
// commit, each message in its own savepoint, so that one message refused (its conversation
// deleted, its id taken) is refused alone. Internal to store/.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "async/blocking_pool.hpp"
#include "common/error.hpp"
#include "store/models.hpp"
#include "store/sqlite/connection.hpp"

namespace parley::store::sqlite {

class MessageWriter {
public:
    MessageWriter(ConnectionPool& connections, async::BlockingPool& pool);
    ~MessageWriter();
    MessageWriter(const MessageWriter&) = delete;
    MessageWriter& operator=(const MessageWriter&) = delete;

    // Stores `m` (and makes it its conversation's active leaf, its time the conversation's
    // updated_at) once it is committed. Errors: not_found when the conversation is not there,
    // conflict when the id is taken, overloaded when the database is busy or unavailable (then
    // nothing of the batch is stored). `m` must live until this returns.
    boost::asio::awaitable<Result<void>> insert(const Message& m);

    // The transactions written so far (for tests and figures).
    std::size_t batches() const noexcept { return batches_.load(); }

private:
    struct Pending;
    struct Queue;

    // On the pool: writes batches until none waits.
    void write();

    ConnectionPool& connections_;
    async::BlockingPool& pool_;
    std::unique_ptr<Queue> queue_;
    std::atomic<std::size_t> batches_{0};
};

}  // namespace parley::store::sqlite

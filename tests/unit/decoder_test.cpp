#include "decode/decoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "connreset.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

TEST(Decoder, RoundTripKeepsEveryField) {
  Event e = abort_on_close(123456789, Conn{42, ep(80), ep(40000)}, task(77, "srv"), 4096);
  e.linger_on = true;
  e.linger_ms = 2000;
  e.task_exiting = true;
  e.fin_received = true;
  std::array<std::byte, Decoder::kRecordSize> raw{};
  Decoder::encode(e, raw);
  DecodeError err;
  const auto back = Decoder().decode(raw, &err);
  ASSERT_TRUE(back) << err.message;
  EXPECT_EQ(back->type, EventType::ResetSent);
  EXPECT_EQ(back->ts_ns, 123456789u);
  EXPECT_EQ(back->cookie, 42u);
  EXPECT_EQ(back->local, ep(80));
  EXPECT_EQ(back->remote, ep(40000));
  EXPECT_EQ(back->task, e.task);
  EXPECT_EQ(back->reason, RstReason::TcpAbortOnClose);
  EXPECT_EQ(back->unread, 4096u);
  EXPECT_TRUE(back->active && back->linger_on && back->task_exiting && back->fin_received);
  EXPECT_EQ(back->linger_ms, 2000u);
  EXPECT_EQ(back->shutdown, tcp::kShutdownBoth);
}

TEST(Decoder, RejectsWrongSize) {
  std::array<std::byte, Decoder::kRecordSize - 1> raw{};
  DecodeError err;
  EXPECT_FALSE(Decoder().decode(raw, &err));
  EXPECT_NE(err.message.find("expected"), std::string::npos);
}

TEST(Decoder, RejectsUnknownTypeAndFamily) {
  cr_event r{};
  r.type = 99;
  DecodeError err;
  auto bytes = std::as_bytes(std::span(&r, 1));
  EXPECT_FALSE(Decoder().decode(bytes, &err));
  r.type = CR_EV_STATE;
  r.family = 7;
  EXPECT_FALSE(Decoder().decode(bytes, &err));
}

TEST(Decoder, CommWithoutTerminatorIsCutAt16) {
  cr_event r{};
  r.type = CR_EV_STATE;
  std::memset(r.comm, 'A', sizeof(r.comm));
  DecodeError err;
  const auto ev = Decoder().decode(std::as_bytes(std::span(&r, 1)), &err);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->task.comm, std::string(16, 'A'));
}

}  // namespace
}  // namespace connreset

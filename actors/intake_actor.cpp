// Intake: the one user of the Intake while the pipeline runs, detached because listing a
// directory, renaming a claimed file and writing its report all block. The supervisor asks for
// files (a claim, with fresh file sequences for them) and says when a file is finished. A claim
// nothing can answer yet waits here, and the intake polls every watch_poll_ms until a file
// arrives, so that the supervisor need not poll at all.
#include <chrono>
#include <optional>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"

namespace meterd::actors {
namespace {

struct IntakeState {
  IntakeState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  Intake* intake = nullptr;
  std::chrono::milliseconds poll_interval{100};
  std::optional<caf::typed_response_promise<Claims>> waiting;  // a claim not answered yet
  SequenceBlock offered;                                       // its sequences
  bool parked = false, poll_scheduled = false;
  static inline const char* name = "meterd.intake";
};

using intake_pointer = intake_actor::stateful_pointer<IntakeState>;

// Up to one file per offered sequence. A recovered file keeps its own sequence and leaves the
// offered one for the next file.
Claims claim(IntakeState& st, const SequenceBlock& offered) {
  Claims claims;
  try {
    while (claims.files.size() < offered.sequences.size()) {
      const std::uint64_t sequence = offered.sequences[claims.sequences_used];
      auto file = st.intake->next(sequence);
      if (!file) break;
      if (file->file_sequence == sequence) ++claims.sequences_used;
      claims.files.push_back(std::move(*file));
    }
    claims.exhausted = st.intake->exhausted();
  } catch (const std::exception& e) {
    log::error("intake_claim_failed", {{"error", e.what()}});
  }
  return claims;
}

void poll(IntakeState& st) {
  try {
    st.intake->poll();
  } catch (const std::exception& e) {
    log::error("intake_poll_failed", {{"error", e.what()}});
  }
}

void schedule_poll(intake_pointer self) {
  auto& st = self->state;
  if (st.poll_scheduled) return;
  st.poll_scheduled = true;
  self->delayed_send(self, st.poll_interval, poll_atom::value);
}

void answer_waiting(IntakeState& st, Claims claims) {
  if (!st.waiting) return;
  st.waiting->deliver(std::move(claims));
  st.waiting.reset();
}

intake_actor::behavior_type intake(intake_pointer self, Intake* intake,
                                   std::chrono::milliseconds poll_interval) {
  self->state.intake = intake;
  self->state.poll_interval = poll_interval;
  return {
      [=](claim_atom, SequenceBlock& offered) -> caf::result<Claims> {
        auto& st = self->state;
        if (st.parked) return Claims{};
        auto claims = claim(st, offered);
        if (claims.files.empty() && !claims.exhausted) {
          poll(st);  // something may have arrived since the last look
          claims = claim(st, offered);
        }
        if (!claims.files.empty() || claims.exhausted) return claims;
        st.offered = std::move(offered);
        st.waiting = self->make_response_promise<Claims>();
        schedule_poll(self);
        return *st.waiting;
      },
      [=](poll_atom) {
        auto& st = self->state;
        st.poll_scheduled = false;
        if (!st.waiting || st.parked) return;
        poll(st);
        auto claims = claim(st, st.offered);
        if (!claims.files.empty() || claims.exhausted)
          answer_waiting(st, std::move(claims));
        else
          schedule_poll(self);
      },
      [=](FileDone& done) {
        try {
          self->state.intake->finished(done.file, done.outcome);
        } catch (const std::exception& e) {
          log::error("intake_finish_failed", {{"file", done.file.name}, {"error", e.what()}});
        }
      },
      [=](park_atom) {
        self->state.parked = true;
        answer_waiting(self->state, Claims{});
      },
      [=](drain_atom) {
        answer_waiting(self->state, Claims{});
        self->quit();
      },
  };
}

}  // namespace

intake_actor spawn_intake(caf::local_actor* parent, Intake& intake, const Config& config) {
  return parent->spawn<caf::monitored + caf::detached>(
      actors::intake, &intake, std::chrono::milliseconds(std::max(1u, config.watch_poll_ms)));
}

}  // namespace meterd::actors

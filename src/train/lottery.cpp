// Iterative magnitude pruning with rewinding, and its random re-initialization control.
#include "nabla/train/lottery.h"

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "nabla/compress/prune.h"

namespace nabla::train {

namespace {

io::TensorMap snapshot(const nn::Module& m) {
  io::TensorMap out;
  for (const auto& [k, v] : m.state_dict()) out[k] = v.detach().clone();
  return out;
}

// Saves the weights once the optimizer has taken `step` steps.
class SnapshotAt : public Callback {
 public:
  SnapshotAt(int64_t step, io::TensorMap* out) : step_(step), out_(out) {}
  void on_batch_end(Trainer& t, int64_t, int64_t, double, double, double) override {
    if (out_->empty() && t.step() == step_) *out_ = snapshot(t.model());
  }

 private:
  int64_t step_;
  io::TensorMap* out_;
};

double train_once(nn::ModulePtr model, const TrainConfig& cfg, const models::ModelConfig& mc, const data::Splits& d,
                  std::shared_ptr<Callback> extra = nullptr) {
  Trainer t(cfg, std::move(model), mc, d);
  if (extra) t.add_callback(std::move(extra));
  auto history = t.fit();
  return history.back().test_acc;
}

}  // namespace

std::string LotteryRound::to_json() const {
  nlohmann::json j{{"round", round}, {"density", density}, {"ticket_acc", ticket_acc}, {"seconds", seconds}};
  if (!std::isnan(random_acc)) j["random_acc"] = random_acc;
  return j.dump();
}

std::vector<LotteryRound> run_lottery(const std::function<nn::ModulePtr(uint64_t seed)>& make, const TrainConfig& cfg,
                                      const models::ModelConfig& mc, const data::Splits& d, const LotteryOptions& o,
                                      const std::function<void(const LotteryRound&)>& on_round) {
  NABLA_CHECK(o.rounds >= 0, "lottery: --rounds must be >= 0, got {}", o.rounds);
  NABLA_CHECK(o.rate > 0 && o.rate < 1, "lottery: --rate must be in (0, 1), got {}", o.rate);
  NABLA_CHECK(o.rewind_step >= 0, "lottery: --rewind-step must be >= 0, got {}", o.rewind_step);
  NABLA_CHECK(!d.text, "lottery: trains classifiers; {} is text", d.name);
  const int64_t steps_per_epoch = (d.train->size() + cfg.batch_size - 1) / cfg.batch_size;
  NABLA_CHECK(o.rewind_step <= cfg.epochs * steps_per_epoch,
              "lottery: --rewind-step {} is past the end of training ({} steps)", o.rewind_step,
              cfg.epochs * steps_per_epoch);
  std::vector<LotteryRound> rounds;
  auto finish = [&](LotteryRound r, std::chrono::steady_clock::time_point t0) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rounds.push_back(r);
    if (on_round) on_round(r);
  };

  auto t0 = std::chrono::steady_clock::now();
  nn::ModulePtr model = make(cfg.seed);
  NABLA_CHECK(!prune::targets(*model).empty(), "lottery: {} has no weights to prune", cfg.model);
  io::TensorMap rewind_to;
  if (o.rewind_step == 0) rewind_to = snapshot(*model);
  LotteryRound dense;
  dense.ticket_acc = train_once(model, cfg, mc, d, std::make_shared<SnapshotAt>(o.rewind_step, &rewind_to));
  NABLA_CHECK(!rewind_to.empty(), "lottery: training never reached step {}", o.rewind_step);
  finish(dense, t0);

  for (int64_t r = 1; r <= o.rounds; ++r) {
    t0 = std::chrono::steady_clock::now();
    LotteryRound lr;
    lr.round = r;
    lr.density = std::pow(1.0 - o.rate, static_cast<double>(r));
    // The trained weights choose the mask; earlier zeros stay zero.
    if (o.global) prune::global_magnitude(*model, 1.0 - lr.density);
    else prune::magnitude(*model, 1.0 - lr.density);
    prune::rewind(*model, rewind_to);
    lr.ticket_acc = train_once(model, cfg, mc, d);
    if (o.control) {
      nn::ModulePtr fresh = make(cfg.seed + 1000 + static_cast<uint64_t>(r));
      auto mine = prune::targets(*model), theirs = prune::targets(*fresh);
      NABLA_CHECK(mine.size() == theirs.size(), "lottery: the control model differs in structure");
      for (size_t i = 0; i < mine.size(); ++i) prune::set_mask(theirs[i], prune::mask(mine[i]));
      lr.random_acc = train_once(fresh, cfg, mc, d);
    }
    finish(lr, t0);
  }
  return rounds;
}

}  // namespace nabla::train

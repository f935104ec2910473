#include "kernels/cpu/dnnl_conv.h"

#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <memory>
#include <mutex>
#include <tuple>

#include "kernels/cpu/dnnl_runtime.h"

namespace nabla::kernels {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

auto key_of(const DnnlConv& c) {
  return std::make_tuple(c.N, c.C, c.H, c.W, c.O, c.kh, c.kw, c.sh, c.sw, c.pt, c.pb, c.pl, c.pr, c.dh, c.dw,
                         c.groups, c.bias, c.bf16);
}

// Weights in oneDNN's preferred layout, reordered from the plain one when they
// differ, and only when they changed since this slot last reordered them (batch-1
// inference would otherwise spend a fifth of its time reordering). The buffer is
// allocated on first use, so shapes that only ever run forward hold no backward buffers.
struct Slot {
  memory::desc plain, pref;
  memory mem;  // preferred-layout storage (only when pref != plain)
  bool same = true;
  const void* held_ptr = nullptr;  // what `mem` holds
  WeightKey held{};
  void init(const memory::desc& p, const memory::desc& q) {
    plain = p;
    pref = q;
    same = p == q;
  }
  memory& buffer() {
    if (!mem) mem = memory(pref, dnnl_engine());
    return mem;
  }
  // Memory holding `user` weights in the preferred layout (reordering in when needed).
  memory in(void* user, WeightKey key) {
    memory u(plain, dnnl_engine(), user);
    if (same) return u;
    memory& m = buffer();
    const bool known = key.storage_id != 0 && key.storage_id == held.storage_id && key.version == held.version &&
                       user == held_ptr;
    if (!known) {
      dnnl::reorder(u, m).execute(dnnl_stream(), u, m);
      held = key;
      held_ptr = user;
    }
    return m;
  }
  // Memory to write the result into; call out_done() afterwards.
  memory out(void* user) { return same ? memory(plain, dnnl_engine(), user) : buffer(); }
  void out_done(void* user) {
    if (same) return;
    memory u(plain, dnnl_engine(), user);
    dnnl::reorder(mem, u).execute(dnnl_stream(), mem, u);
  }
};

// Scratch memory a primitive asks for, allocated once on first use and kept:
// oneDNN's default allocates it on every execution (page faults each step).
struct Scratch {
  memory::desc desc;
  memory mem;
  memory& get() {
    if (!mem) mem = memory(desc, dnnl_engine());
    return mem;
  }
};

struct Prims {
  std::mutex mu;  // one execution of this shape at a time: the buffers below are shared
  Scratch s_fwd, s_bwd_data, s_bwd_w;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_w;
  memory::desc src, dst;  // channels-last, for x / gx and y / gy
  Slot f_w, d_w, w_dw;
  memory::desc bias_md;
};

std::unique_ptr<Prims> build(const DnnlConv& c) {
  const dnnl::engine& eng = dnnl_engine();
  memory::dims src_d{c.N, c.C, c.H, c.W}, dst_d{c.N, c.O, c.Ho, c.Wo};
  memory::dims w_d = c.groups == 1 ? memory::dims{c.O, c.C, c.kh, c.kw}
                                   : memory::dims{c.groups, c.O / c.groups, c.C / c.groups, c.kh, c.kw};
  tag wtag = c.groups == 1 ? tag::oihw : tag::goihw;
  // bf16 kernels read and write bf16 (the bias too) and accumulate in f32.
  const dt t = c.bf16 ? dt::bf16 : dt::f32;
  memory::desc src(src_d, t, tag::nhwc), dst(dst_d, t, tag::nhwc), w_p(w_d, t, wtag);
  memory::desc w_a(w_d, t, tag::any);
  memory::desc b_md({c.O}, t, tag::x);
  memory::dims strides{c.sh, c.sw}, dil{c.dh - 1, c.dw - 1}, pad_l{c.pt, c.pl}, pad_r{c.pb, c.pr};
  auto alg = dnnl::algorithm::convolution_direct;
  auto fd = c.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, w_a, b_md, dst,
                                                     strides, dil, pad_l, pad_r)
                   : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, w_a, dst, strides,
                                                     dil, pad_l, pad_r);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::convolution_forward::primitive_desc fpd(fd, attr, eng);
  dnnl::convolution_backward_data::desc bdd(alg, src, w_a, dst, strides, dil, pad_l, pad_r);
  dnnl::convolution_backward_data::primitive_desc bdpd(bdd, attr, eng, fpd);
  // No bias here: its gradient is a per-channel sum of gy that the caller does
  // vectorized (oneDNN 2.6 sums it with SSE on one thread: 3% of a LeNet step).
  dnnl::convolution_backward_weights::desc bwd(alg, src, w_a, dst, strides, dil, pad_l, pad_r);
  dnnl::convolution_backward_weights::primitive_desc bwpd(bwd, attr, eng, fpd);
  auto p = std::make_unique<Prims>();
  p->fwd = dnnl::convolution_forward(fpd);
  p->bwd_data = dnnl::convolution_backward_data(bdpd);
  p->bwd_w = dnnl::convolution_backward_weights(bwpd);
  p->src = src;
  p->dst = dst;
  p->f_w.init(w_p, fpd.weights_desc());
  p->d_w.init(w_p, bdpd.weights_desc());
  p->w_dw.init(w_p, bwpd.diff_weights_desc());
  p->bias_md = b_md;
  p->s_fwd.desc = fpd.scratchpad_desc();
  p->s_bwd_data.desc = bdpd.scratchpad_desc();
  p->s_bwd_w.desc = bwpd.scratchpad_desc();
  return p;
}

std::mutex g_mu;  // guards the cache itself; each shape's Prims has its own lock
std::map<decltype(key_of(DnnlConv{})), std::unique_ptr<Prims>> g_cache;
Prims* get(const DnnlConv& c) {
  auto k = key_of(c);
  auto it = g_cache.find(k);
  if (it != g_cache.end()) return it->second.get();
  try {
    return g_cache.emplace(k, build(c)).first->second.get();
  } catch (const dnnl::error&) {
    g_cache.emplace(k, nullptr);  // remember: this shape takes the im2col path
    return nullptr;
  }
}

// The cache entry of c's shape (null: not on oneDNN), under the cache's lock only.
Prims* lookup(const DnnlConv& c) {
  std::lock_guard<std::mutex> lock(g_mu);
  return get(c);
}

}  // namespace

bool dnnl_conv_supported(const DnnlConv& c) {
  if (!dnnl_enabled()) return false;
  return lookup(c) != nullptr;
}

bool dnnl_conv_forward(const DnnlConv& c, const void* x, const void* w, WeightKey wkey, const void* b, void* y) {
  if (!dnnl_enabled()) return false;
  Prims* p = lookup(c);
  if (!p) return false;
  std::lock_guard<std::mutex> lock(p->mu);
  const dnnl::engine& eng = dnnl_engine();
  try {
    memory src(p->src, eng, const_cast<void*>(x)), dst(p->dst, eng, y);
    memory wm = p->f_w.in(const_cast<void*>(w), wkey);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_WEIGHTS, wm},
                                         {DNNL_ARG_DST, dst},
                                         {DNNL_ARG_SCRATCHPAD, p->s_fwd.get()}};
    if (c.bias) args.emplace(DNNL_ARG_BIAS, memory(p->bias_md, eng, const_cast<void*>(b)));
    p->fwd.execute(dnnl_stream(), args);
    dnnl_stream().wait();
  } catch (const dnnl::error&) {
    dnnl_mark_failed();
    return false;
  }
  return true;
}

bool dnnl_conv_backward(const DnnlConv& c, const void* x, const void* w, WeightKey wkey, const void* gy, void* gx,
                        void* gw) {
  if (!dnnl_enabled()) return false;
  Prims* p = lookup(c);
  if (!p) return false;
  std::lock_guard<std::mutex> lock(p->mu);
  const dnnl::engine& eng = dnnl_engine();
  try {
    if (gx) {
      memory ddst(p->dst, eng, const_cast<void*>(gy)), dsrc(p->src, eng, gx);
      memory wm = p->d_w.in(const_cast<void*>(w), wkey);
      p->bwd_data.execute(dnnl_stream(), {{DNNL_ARG_DIFF_DST, ddst},
                                    {DNNL_ARG_WEIGHTS, wm},
                                    {DNNL_ARG_DIFF_SRC, dsrc},
                                    {DNNL_ARG_SCRATCHPAD, p->s_bwd_data.get()}});
    }
    if (gw) {
      memory src(p->src, eng, const_cast<void*>(x)), ddst(p->dst, eng, const_cast<void*>(gy));
      memory dw = p->w_dw.out(gw);
      p->bwd_w.execute(dnnl_stream(), {{DNNL_ARG_SRC, src},
                                 {DNNL_ARG_DIFF_DST, ddst},
                                 {DNNL_ARG_DIFF_WEIGHTS, dw},
                                 {DNNL_ARG_SCRATCHPAD, p->s_bwd_w.get()}});
      p->w_dw.out_done(gw);
    }
    dnnl_stream().wait();
  } catch (const dnnl::error&) {
    dnnl_mark_failed();
    return false;
  }
  return true;
}

}  // namespace nabla::kernels

#pragma once
// All of nabla::nn.
#include "nabla/nn/activation.h"
#include "nabla/nn/attention.h"
#include "nabla/nn/container.h"
#include "nabla/nn/functional_call.h"
#include "nabla/nn/init.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/minrnn.h"
#include "nabla/nn/module.h"
#include "nabla/nn/parametrize.h"
#include "nabla/nn/rnn.h"
#include "nabla/nn/summary.h"
#include "nabla/nn/upsample.h"

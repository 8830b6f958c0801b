// The decoding half of a VAE, told apart from the encoding half by checkpoint key, and a new
// decoder of another width on an existing encoder: training a decoder alone keeps the latent
// space (and a DiT trained on it), as Stable Diffusion's ft-MSE decoder did for its VAE.
#include <sstream>

#include "kinema/error.hpp"
#include "kinema/vae_train.hpp"

namespace kinema {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string list_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
}

}  // namespace

// Wan's WanVAE_.decode runs conv2 over z, then Decoder3d; encode ends with conv1 (-> mu, logvar).
bool is_vae_decoder_key(const std::string& key) {
  return starts_with(key, "decoder.") || starts_with(key, "conv2.");
}

TensorFile vae_with_new_decoder(const TensorFile& init, int64_t decoder_width, uint64_t seed) {
  const VAE given = VAE::from_tensors(init);  // checks every key and shape
  VaeConfig c = given.config();
  check(decoder_width > 0, "vae decoder", "the decoder width must be positive; got ", decoder_width);
  c.decoder_dim = decoder_width;
  if (c.layout == VaeLayout::wan21 && decoder_width == c.dim) c.decoder_dim = 0;  // as inferred back
  try {
    c.validate();
  } catch (const Error& e) {
    fail("vae decoder", "a decoder of width ", decoder_width, " does not fit this VAE (dim ", c.dim,
         ", stage multipliers ", list_str(c.dim_mult), "): ", e.what());
  }
  TensorFile out = VAE::init_random(c, seed).to_tensors();  // metadata: latent statistics of c
  for (auto& [key, t] : out.tensors)
    if (!is_vae_decoder_key(key)) t = given.weight(key);
  return out;
}

}  // namespace kinema

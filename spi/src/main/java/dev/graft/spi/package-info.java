/**
 * The Graft PEFT SPI: what a parameter-efficient fine-tuning method implements ({@link dev.graft.spi.PeftMethod},
 * {@link dev.graft.spi.MethodInstance}, one {@link dev.graft.spi.MethodModule} per site) and what the runtime hands
 * it (sites, options, the model's shape).
 *
 * <h2>Gates: how a method is gated without writing gate code</h2>
 * An adapter attached with composition {@code gated} (UniPELT) gets one gate per (adapter, site), owned by the
 * runtime and saved with the adapter; a module never sees it. The gate reads the site's input {@code x} and gives
 * one value per example, {@code g = mean over the real (unpadded) tokens of σ(x·W_gᵀ + b_g)} in (0, 1), with {@code W_g ~ N(0, 0.02)}
 * and {@code b_g = 0} at first. What {@code g} multiplies depends only on the module type the method implements:
 * <table>
 *   <caption>The gate rule per contribution kind</caption>
 *   <tr><th>module type</th><th>ungated ({@code sum})</th><th>gated</th><th>gate reads</th></tr>
 *   <tr><td>{@link dev.graft.spi.AdditiveLinearModule}</td><td>{@code y + scaling·delta(x)}</td>
 *       <td>{@code y + g·delta(x)}: g replaces the scaling (LoRA's α/r)</td><td>the linear layer's input</td></tr>
 *   <tr><td>{@link dev.graft.spi.ScalingLinearModule} (IA³-like)</td><td>{@code l ⊙ x} or {@code l ⊙ y}</td>
 *       <td>{@code (1 + g·(l − 1)) ⊙ …}: the deviation from identity is gated</td><td>the linear layer's input</td></tr>
 *   <tr><td>{@link dev.graft.spi.WeightTransformModule} (Bone's BAT)</td><td>{@code x·(W + ΔW)ᵀ}</td>
 *       <td>{@code x·(W + g·ΔW)ᵀ}: the weight delta is gated</td><td>the linear layer's input</td></tr>
 *   <tr><td>{@link dev.graft.spi.SublayerModule} (bottleneck adapters)</td><td>{@code h + scaling·delta(x_in, h)}</td>
 *       <td>{@code h + g·delta(x_in, h)}</td><td>the sublayer's output {@code h}</td></tr>
 *   <tr><td>{@link dev.graft.spi.PrefixModule}</td><td>virtual keys {@code K}, values {@code V}</td>
 *       <td>the virtual keys' attention weight is scaled by {@code g} ({@code log g} added to their scores, so each
 *       query's softmax gives them {@code g·exp(s)} before normalising)</td><td>the attention layer's input</td></tr>
 *   <tr><td>{@link dev.graft.spi.PromptModule}</td><td>virtual tokens {@code P}</td>
 *       <td>the virtual positions' attention weight is scaled by {@code g} in every layer</td><td>the input embeddings</td></tr>
 * </table>
 * So a gate forced open ({@code g = 1}) gives exactly the plain {@code sum} composition with scaling 1, and a gate
 * forced shut ({@code g → 0}) removes the contribution: the base model's output. One caveat for prefixes and prompts:
 * the virtual tokens still move the real tokens' positions, as in PEFT ({@code past_key_values_length}, prompt tokens
 * before the input), so on a model with absolute position embeddings (BERT) a shut prefix or prompt gives the base
 * model read at positions shifted by the number of virtual tokens; with rotary positions (Llama), which only see
 * offsets, it gives the base model. AdapterHub's UniPELT scales a prefix's keys and values by {@code g} instead,
 * which never shuts it (zero keys still take attention weight, {@code exp(0)} each); Graft gates the attention weight
 * so that every kind obeys the same two rules. A gated adapter cannot be merged.
 */
package dev.graft.spi;

"""The lesson's words, in one place: for each page the idea in plain language, its formula, the terms it uses,
and where to read more. Written for this app; pages show it with components.sections.lesson.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Formula:
    latex: str  # for st.latex
    meaning: str  # one sentence under it, in words
    where: str = "intro"  # the page section it belongs to; "intro" is under the title


@dataclass(frozen=True)
class Reading:
    title: str
    authors: str  # "Dosovitskiy et al., 2021"
    url: str
    why: str  # what to read it for, one sentence


@dataclass(frozen=True)
class Lesson:
    idea: str  # markdown, a few sentences a newcomer can follow
    formulas: tuple[Formula, ...]
    terms: tuple[tuple[str, str], ...]  # (term, meaning)
    reading: tuple[Reading, ...]


VIT = Reading("An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
              "Dosovitskiy et al., ICLR 2021", "https://arxiv.org/abs/2010.11929",
              "where patches as tokens, the CLS token and learned positions come from")
CLIP = Reading("Learning Transferable Visual Models From Natural Language Supervision", "Radford et al., ICML 2021",
               "https://arxiv.org/abs/2103.00020", "the contrastive recipe and zero-shot classification with prompts")
BLIP = Reading("BLIP: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding and "
               "Generation", "Li et al., ICML 2022", "https://arxiv.org/abs/2201.12086",
               "the model on the cross-attention page: a text transformer with cross-attention into a ViT")
VILT = Reading("ViLT: Vision-and-Language Transformer Without Convolution or Region Supervision",
               "Kim, Son and Kim, ICML 2021", "https://arxiv.org/abs/2102.03334",
               "the model on the early-fusion page: words and patches in one transformer")
FLAMINGO = Reading("Flamingo: a Visual Language Model for Few-Shot Learning", "Alayrac et al., NeurIPS 2022",
                   "https://arxiv.org/abs/2204.14198",
                   "cross-attention layers slotted into a frozen language model: the idea at scale")
ROLLOUT = Reading("Quantifying Attention Flow in Transformers", "Abnar and Zuidema, ACL 2020",
                  "https://arxiv.org/abs/2005.00928", "attention rollout: following attention through every layer")
WHISPER = Reading("Robust Speech Recognition via Large-Scale Weak Supervision", "Radford et al., ICML 2023",
                  "https://arxiv.org/abs/2212.04356",
                  "the model on the listening page: an audio encoder and a text decoder joined by cross-attention")
CHEFER = Reading("Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder "
                 "Transformers", "Chefer, Gur and Wolf, ICCV 2021", "https://arxiv.org/abs/2103.15679",
                 "relevance maps for cross- and co-attention models, beyond raw attention")
NOT_EXPLANATION = Reading("Attention is not Explanation", "Jain and Wallace, NAACL 2019",
                          "https://arxiv.org/abs/1902.10186",
                          "why a bright attention map is evidence, not proof (the masking test on the page)")
ATTENTION = Reading("Attention Is All You Need", "Vaswani et al., NeurIPS 2017", "https://arxiv.org/abs/1706.03762",
                    "scaled dot-product attention, the formula every page uses")
GAP = Reading("Mind the Gap: Understanding the Modality Gap in Multi-modal Contrastive Representation Learning",
              "Liang et al., NeurIPS 2022", "https://arxiv.org/abs/2203.02053",
              "why images and captions sit in two separate cones of CLIP's space")
BAG_OF_WORDS = Reading("When and Why Vision-Language Models Behave like Bags-of-Words, and What to Do About It?",
                       "Yuksekgonul et al., ICLR 2023", "https://arxiv.org/abs/2210.01936",
                       "why a caption with its colours swapped can still match")
DISTANCE = Reading("Do Vision Transformers See Like Convolutional Neural Networks?", "Raghu et al., NeurIPS 2021",
                   "https://arxiv.org/abs/2108.08810", "mean attention distance: local heads early, global later")

LESSONS: dict[str, Lesson] = {
    "patches": Lesson(
        idea=(
            "A transformer reads sequences, so a Vision Transformer first turns the picture into one. It cuts the "
            "image into square **patches**, flattens each patch's pixels and multiplies them by one learned matrix: "
            "every patch becomes a vector, the way every word becomes an embedding. A **position** vector is added "
            "so the model knows where each patch came from, and an extra **CLS** token, with no pixels of its own, "
            "is put first to collect a summary of the image through attention."
        ),
        formulas=(
            Formula(r"N = \frac{H}{P}\cdot\frac{W}{P}",
                    "An H x W image cut into P x P patches gives N patches: 224 px and 32 px patches give 7 x 7 = 49."),
            Formula(r"z_0 = \left[\,x_{\mathrm{cls}};\; x_1 E;\; x_2 E;\; \dots;\; x_N E\,\right] + E_{\mathrm{pos}}",
                    "Each flattened patch x_i (P·P·3 numbers) times the projection E, plus its position: the first "
                    "layer's input."),
            Formula(r"R = \hat A_L \hat A_{L-1} \cdots \hat A_1,\qquad \hat A_\ell = \tfrac12 A_\ell + \tfrac12 I",
                    "Attention rollout: multiply the layers' attention (half of each token stays itself, the "
                    "residual path) to trace what reaches CLS at the end.", where="rollout"),
        ),
        terms=(("patch", "a P x P square of the image, one token"),
               ("CLS token", "a learned extra token whose final vector stands for the whole image"),
               ("position embedding", "a learned vector per grid position, added to the patch vector"),
               ("rollout", "attention multiplied through all layers, an estimate of how information flows")),
        reading=(VIT, ROLLOUT, DISTANCE, CHEFER),
    ),
    "cross-attention": Lesson(
        idea=(
            "In cross-attention the two modalities play different parts. Each **text token** asks a question: its "
            "**query**. Each **image patch** offers a label, its **key**, and a content, its **value**. A token "
            "compares its query with every key, turns the scores into weights that sum to one (softmax), and takes "
            "the weighted mix of the values: its view of the image. The weights are what the heatmaps show: where "
            "each word *looked*. Looking is not the same as relying on it, which the masking test checks."
        ),
        formulas=(
            Formula(r"Q = X_{\mathrm{text}} W_Q,\qquad K = X_{\mathrm{image}} W_K,\qquad V = X_{\mathrm{image}} W_V",
                    "Queries come from the words, keys and values from the patches: that is what makes it "
                    "cross-attention."),
            Formula(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right) V",
                    "Row t of the softmax is token t's attention over the patches: one row of the token x patch "
                    "matrix."),
        ),
        terms=(("query", "what a text token is looking for"),
               ("key", "what an image patch can be found by"),
               ("value", "what an image patch hands over when it is looked at"),
               ("grounding", "a word's attention landing on the object it names")),
        reading=(ATTENTION, BLIP, FLAMINGO, CHEFER, NOT_EXPLANATION),
    ),
    "clip-space": Lesson(
        idea=(
            "CLIP trains two separate encoders, one for images and one for text, and asks only one thing of them: "
            "a photo and its own caption should land close together, and far from the other captions in the batch. "
            "After training on millions of pairs, **distance means meaning**: any sentence can be compared with any "
            "image by a cosine. That is how CLIP classifies with no training for the task (**zero-shot**): it "
            "writes each class name into a caption and picks the caption nearest the image."
        ),
        formulas=(
            Formula(r"s_{ij} = \frac{\cos(u_i, v_j)}{\tau}",
                    "Image i's embedding u_i against caption j's v_j, scaled by the temperature τ."),
            Formula(r"\mathcal{L} = -\frac{1}{2N}\sum_{i=1}^{N}\left[\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}} + "
                    r"\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\right]",
                    "InfoNCE: each image must pick its own caption out of the batch, and each caption its own image.",
                    where="infonce"),
        ),
        terms=(("embedding", "the vector an encoder outputs; here both modalities share its space"),
               ("contrastive loss", "pull matching pairs together, push mismatched pairs apart"),
               ("temperature τ", "how sharp the softmax over similarities is"),
               ("modality gap", "images and captions occupy two separate regions of the shared space")),
        reading=(CLIP, GAP, BAG_OF_WORDS, VIT),
    ),
    "early-fusion": Lesson(
        idea=(
            "Early fusion skips the separate towers. The words and the image patches are put into **one sequence**, "
            "each with a **modality** (token-type) embedding saying which kind it is, and ordinary self-attention "
            "runs over all of them from the first layer. So a word can look at a patch, a patch can look at a word, "
            "and each can look at its own kind: the attention matrix has four blocks. The price: every layer pays "
            "for every pair, text and image alike."
        ),
        formulas=(
            Formula(r"z_0 = \left[\,w_1 + t_{\mathrm{text}};\; \dots;\; w_T + t_{\mathrm{text}};\; "
                    r"v_{\mathrm{cls}} + t_{\mathrm{image}};\; v_1 + t_{\mathrm{image}};\; \dots;\; "
                    r"v_N + t_{\mathrm{image}}\,\right]",
                    "T word vectors and N patch vectors (each with its position), marked by a modality vector t."),
            Formula(r"A = \mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right) = "
                    r"\begin{pmatrix} A_{\mathrm{text}\to\mathrm{text}} & A_{\mathrm{text}\to\mathrm{image}} \\ "
                    r"A_{\mathrm{image}\to\mathrm{text}} & A_{\mathrm{image}\to\mathrm{image}} \end{pmatrix}",
                    "One attention over all S = T + N + 1 tokens; its blocks are the four ways the modalities "
                    "meet.", where="matrix"),
        ),
        terms=(("early fusion", "both modalities share one transformer from layer 0"),
               ("modality embedding", "a learned vector added to every token of one kind"),
               ("cross-modal mass", "the share of a token's attention that goes to the other modality"),
               ("late fusion", "separate encoders, combined only at the end (as in CLIP)")),
        reading=(VILT, FLAMINGO, CHEFER, ATTENTION),
    ),
    "listening": Lesson(
        idea=(
            "Cross-attention does not care where its keys come from. Whisper turns sound into a **log-mel "
            "spectrogram**, and its audio encoder cuts it into **frames** of 20 ms: the audio's patches. The text "
            "decoder writes the transcript one token at a time, and at every step each **text token** sends a "
            "**query** to the frames' **keys** and mixes their **values**: the same softmax(QKᵀ/√d_k)V as the "
            "image page, with frames where the patches were. Patches for images, frames for sound, tokens for text: "
            "once everything is a sequence of vectors, one operation joins any two of them. Some heads follow the "
            "speech so closely that Whisper reads **word times** off them."
        ),
        formulas=(
            Formula(r"Q = X_{\mathrm{text}} W_Q,\qquad K = X_{\mathrm{audio}} W_K,\qquad V = X_{\mathrm{audio}} W_V",
                    "Queries from the tokens written so far; keys and values from the encoder's audio frames."),
            Formula(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right) V",
                    "Row t is token t's attention over the 1500 frames of Whisper's 30 s window: one row of the "
                    "token x frame matrix.", where="matrix"),
        ),
        terms=(("log-mel spectrogram", "the sound's energy per frequency band (80 bands, mel-spaced) every 10 ms"),
               ("encoder frame", "one 20 ms step of the audio encoder's output: a key and a value for the decoder"),
               ("alignment heads", "cross-attention heads whose weights walk along the speech as the words do"),
               ("dynamic time warping", "the monotonic path through the token x frame matrix that word times "
                                        "are read from")),
        reading=(WHISPER, ATTENTION, FLAMINGO),
    ),
}


def lesson(page: str) -> Lesson:
    """The words for a page (a url path: patches, cross-attention, clip-space, early-fusion)."""
    try:
        return LESSONS[page]
    except KeyError:
        raise KeyError(f"no lesson for {page!r}; there are {sorted(LESSONS)}") from None

namespace PeftHost.Core.Tokenization;

/// <summary>
/// A token matched whole in the input before segmentation (Hugging Face's <c>added_tokens</c> and
/// <c>added_tokens_decoder</c>).
/// </summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">Its text.</param>
/// <param name="Special">A special token (BOS, EOS, chat markers): dropped when decoding skips specials.</param>
public sealed record AddedToken(int Id, string Content, bool Special);

namespace PeftHost.Core.Chat;

/// <summary>
/// A chat template that cannot be found, read, parsed or rendered, or messages it cannot take. The message names
/// the file (and the template line, when the template itself is at fault).
/// </summary>
public sealed class ChatTemplateException(string message, Exception? inner = null) : Exception(message, inner);

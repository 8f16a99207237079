using System.Text.Json.Nodes;

namespace PeftHost.Core.Data;

/// <summary>Reads one record as a conversation: the <c>messages</c> list a chat template renders.</summary>
public interface IConversationReader
{
    /// <summary>The reader's name and every setting that changes what it reads (part of the tokenization cache key).</summary>
    string CacheKey { get; }

    /// <summary>
    /// The conversation of <paramref name="record"/>: objects with a <c>role</c> ("system", "user", "assistant",
    /// "tool") and a string <c>content</c>, at least one of them the assistant's.
    /// </summary>
    /// <exception cref="DataFormatException">The record is not such a conversation; the message names the file, line and what is wrong.</exception>
    JsonArray Read(DataRecord record);
}

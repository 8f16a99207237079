namespace PeftHost.Core.Tokenization;

/// <summary>
/// Cuts text at its added tokens as Hugging Face does: scanning left to right, the longest added token
/// that starts at a position wins ("\n\n\n" over "\n", a run of ▁ over a shorter run).
/// </summary>
internal sealed class AddedTokenSplitter
{
    private sealed class Node
    {
        public readonly Dictionary<char, Node> Children = [];
        public AddedToken? Token;
    }

    private readonly Node _root = new();

    /// <summary>A splitter over <paramref name="tokens"/> (by content; the first of equal contents wins).</summary>
    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        foreach (var token in tokens)
        {
            var node = _root;
            foreach (var c in token.Content)
            {
                if (!node.Children.TryGetValue(c, out var child))
                    node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= token;
        }
    }

    /// <summary>The sections of <paramref name="text"/> in order: plain text (Token null) or one added token.</summary>
    public List<(string Text, AddedToken? Token)> Split(string text)
    {
        var sections = new List<(string, AddedToken?)>();
        int start = 0, i = 0;
        while (i < text.Length)
        {
            var match = LongestAt(text, i);
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > start)
                sections.Add((text[start..i], null));
            sections.Add((match.Content, match));
            i += match.Content.Length;
            start = i;
        }
        if (start < text.Length)
            sections.Add((text[start..], null));
        return sections;
    }

    private AddedToken? LongestAt(string text, int position)
    {
        AddedToken? longest = null;
        var node = _root;
        for (var j = position; j < text.Length && node.Children.TryGetValue(text[j], out node); j++)
            longest = node.Token ?? longest;
        return longest;
    }
}

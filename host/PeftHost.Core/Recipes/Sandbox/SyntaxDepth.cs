using Acornima.Ast;

namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>
/// Bounds a recipe module's syntax before Jint walks it. Jint's own passes over a parsed module (hoisting,
/// building the interpreter's tree, evaluating) recurse once per level of the syntax tree without a stack
/// check, so one long expression (<c>1+1+…</c> with 500,000 terms, <c>a=a=…</c>) overflowed the native stack
/// and killed the process. The tree is measured here without recursion, and the module refused when it is
/// deeper than any real recipe, naming where.
/// </summary>
public static class SyntaxDepth
{
    /// <summary>The deepest syntax tree a module may have; real recipes stay below 60.</summary>
    public const int MaxDepth = 1_000;

    /// <summary>The largest module, in characters, a recipe may import.</summary>
    public const int MaxModuleChars = 4 * 1024 * 1024;

    /// <summary>The first node deeper than <see cref="MaxDepth"/>, or null when the tree stays within it.</summary>
    public static Node? FindTooDeep(Node root)
    {
        var pending = new Stack<(Node Node, int Depth)>();
        pending.Push((root, 1));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > MaxDepth) return node;
            foreach (var child in node.ChildNodes)
                if (child is not null) pending.Push((child, depth + 1));
        }
        return null;
    }
}

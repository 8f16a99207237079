using System.Collections.ObjectModel;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>Brings a list view's collection in line with new items, touching only what changed (so selection and scroll survive).</summary>
public static class ListSync
{
    /// <summary>Makes <paramref name="target"/> equal to <paramref name="items"/>.</summary>
    public static void Update(ObservableCollection<string> target, IReadOnlyList<string> items)
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (i < target.Count)
            {
                if (target[i] != items[i]) target[i] = items[i];
            }
            else
            {
                target.Add(items[i]);
            }
        }
        while (target.Count > items.Count) target.RemoveAt(target.Count - 1);
    }
}

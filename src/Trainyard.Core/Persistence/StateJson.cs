using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Trainyard.Persistence;

/// <summary>
/// The JSON of a record's state column: the record itself less the members kept in columns of their own
/// (name, sequence, definition). Every member is optional when read, so rows written by an older
/// Trainyard still load.
/// </summary>
public static class StateJson
{
    public static JsonTypeInfo<T> For<T>(JsonSerializerContext context, IReadOnlyCollection<string> inColumns) =>
        (JsonTypeInfo<T>)new JsonSerializerOptions(context.Options)
        {
            TypeInfoResolver = context.WithAddedModifier(info =>
            {
                if (info.Type != typeof(T))
                {
                    return;
                }

                foreach (var property in info.Properties)
                {
                    property.IsRequired = false;
                    if (inColumns.Contains(property.Name))
                    {
                        property.ShouldSerialize = static (_, _) => false;
                    }
                }
            }),
        }.GetTypeInfo(typeof(T));
}

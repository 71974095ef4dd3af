using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lume.Hosting;

/// <summary>
/// Binds <c>LUME_*</c> settings to options. The binder's own error ("Failed to convert configuration value 'abc' at
/// 'WORKER:CONCURRENCY' to type 'System.Int32'") names neither the variable a user set nor what it should hold, so
/// every value is checked first and each bad one is reported as <c>LUME_WORKER__CONCURRENCY: 'abc' is not a whole number</c>.
/// </summary>
public static class LumeConfiguration
{
    /// <summary>Binds <paramref name="section"/> with its values checked first; <paramref name="prefix"/> is the section's variable prefix, e.g. <c>LUME_WORKER__</c>.</summary>
    public static OptionsBuilder<T> BindLume<T>(this OptionsBuilder<T> options, IConfiguration section, string prefix)
        where T : class =>
        options.Configure(o => Bind(section, prefix, o));

    /// <summary>The settings of <paramref name="section"/> as a <typeparamref name="T"/>; throws <see cref="LumeStartupException"/> naming every bad variable.</summary>
    public static T Read<T>(IConfiguration section, string prefix)
        where T : class, new()
    {
        var value = new T();
        Bind(section, prefix, value);
        return value;
    }

    /// <summary>Binds into <paramref name="target"/> after checking that every value given converts to its property's type.</summary>
    public static void Bind<T>(IConfiguration section, string prefix, T target)
        where T : class
    {
        var problems = Problems(section, prefix, typeof(T));
        if (problems.Count > 0)
            throw new OptionsValidationException(prefix, typeof(T), problems);
        section.Bind(target);
    }

    static List<string> Problems(IConfiguration section, string prefix, Type type)
    {
        var problems = new List<string>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
            var text = section[key];
            var target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (text is null || target == typeof(string) || !IsScalar(target))
                continue;
            if (text.Length == 0 && property.PropertyType != target)
                continue; // an empty value leaves a nullable setting unset
            if (!Converts(target, text))
                problems.Add($"{prefix}{key.Replace(":", "__", StringComparison.Ordinal)}: '{text}' is not {Describe(target)}");
        }

        return problems;
    }

    static bool IsScalar(Type type) => type.IsPrimitive || type.IsEnum || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);

    static bool Converts(Type type, string text)
    {
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException or OverflowException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "a whole number",
        _ when type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(byte) => "a whole number of 0 or more",
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number (e.g. 2.5)",
        _ when type == typeof(TimeSpan) => "a duration (e.g. 00:00:30)",
        _ when type.IsEnum => $"one of {string.Join(", ", Enum.GetNames(type))}",
        _ => $"a {type.Name}",
    };
}

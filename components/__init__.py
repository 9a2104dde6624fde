"""The four reusable components of the matching platform, all typed `matching:platform:<Name>`.

Import each from its module (`components.edge`, ...), so that loading the settings alone
never pulls in a provider SDK.
"""

"""ROS 2 adapters: message bridge, bags, node base and nodes. The only package that imports rclpy
or ROS message classes."""
